import { CollectorError } from '../../errors.js';
import { SQL_ERRORS, SqlEndpointError } from '../errors.js';

/**
 * Any error from the SQL endpoint → ClickHouse's error shape: a numeric code, the
 * `Code: <n>. DB::Exception: <message>` text, and an HTTP status (400 when the
 * statement is at fault, 500 when the engine is, 503 when it is busy).
 */
export interface ClickHouseStyleError {
  code: number;
  status: number;
  text: string;
}

/** UNKNOWN_EXCEPTION: the engine failed without telling which way. */
const UNKNOWN_EXCEPTION = 1002;
/** Bound on an engine message echoed to the client. */
const MAX_MESSAGE_CHARS = 2000;

/** Codes that mean "the statement is wrong", answered 400 like ClickHouse does. */
const CLIENT_CODES = new Set([
  6, 16, 27, 36, 38, 41, 42, 43, 44, 46, 47, 48, 50, 53, 60, 62, 69, 70, 72, 73, 81, 115, 164, 179,
  184, 190, 215, 229, 352, 386, 403, 456, 457, 497,
]);

const CODE_IN_TEXT = /Code:\s*(\d+)/;

interface EngineCause {
  code: number;
  message: string;
}

/** The first error along the `cause` chain that carries a ClickHouse code. */
function engineCause(err: unknown, depth = 0): EngineCause | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const record = err as {
    clickhouseCode?: unknown;
    code?: unknown;
    message?: unknown;
    cause?: unknown;
  };
  const message = typeof record.message === 'string' ? record.message : '';
  const deeper = engineCause(record.cause, depth + 1);
  if (deeper) return deeper;
  if (typeof record.clickhouseCode === 'number') return { code: record.clickhouseCode, message };
  // @clickhouse/client's ClickHouseError carries the code as a numeric string.
  if (typeof record.code === 'string' && /^\d+$/.test(record.code)) {
    return { code: Number(record.code), message };
  }
  const m = CODE_IN_TEXT.exec(message);
  return m?.[1] ? { code: Number(m[1]), message: message.slice(m.index) } : undefined;
}

function clean(message: string): string {
  const body = message.replace(/^\s*Code:\s*\d+\.\s*(DB::Exception:\s*)?/, '').trim();
  const first = body.split('\n')[0] ?? body;
  return first.length > MAX_MESSAGE_CHARS ? `${first.slice(0, MAX_MESSAGE_CHARS)}…` : first;
}

function ours(err: SqlEndpointError): ClickHouseStyleError {
  return {
    code: err.clickhouseCode,
    status: err.status,
    text: `Code: ${err.clickhouseCode}. DB::Exception: ${err.message}. (${err.clickhouseName})\n`,
  };
}

export function toClickHouseError(err: unknown): ClickHouseStyleError {
  if (err instanceof SqlEndpointError) return ours(err);
  if (err instanceof CollectorError && err.code === 'STORE_BUSY') {
    return ours(
      new SqlEndpointError(
        'TOO_MANY_SIMULTANEOUS_QUERIES',
        SQL_ERRORS.TOO_MANY_SIMULTANEOUS_QUERIES.message,
        { cause: err },
      ),
    );
  }
  const cause = engineCause(err);
  if (!cause) {
    const text = err instanceof Error ? err.message : String(err);
    return {
      code: UNKNOWN_EXCEPTION,
      status: 500,
      text: `Code: ${UNKNOWN_EXCEPTION}. DB::Exception: ${clean(text)}\n`,
    };
  }
  return {
    code: cause.code,
    status: CLIENT_CODES.has(cause.code) ? 400 : 500,
    text: `Code: ${cause.code}. DB::Exception: ${clean(cause.message)}\n`,
  };
}
