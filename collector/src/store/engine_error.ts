import { CollectorError, type CollectorErrorCode } from '../errors.js';

/** ClickHouse exception codes we map to our own; everything else is STORE_QUERY. */
const READONLY = 164;
const SYNTAX = 62;
const ACCESS_DENIED = 497;
const QUERY_WAS_CANCELLED = 394;

/** The engine's code, from a chDB error (`clickhouseCode`), a server error (`code`), or the text. */
function engineCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const record = err as { clickhouseCode?: unknown; code?: unknown; message?: unknown };
  if (typeof record.clickhouseCode === 'number') return record.clickhouseCode;
  if (typeof record.code === 'string' && /^\d+$/.test(record.code)) return Number(record.code);
  if (typeof record.message === 'string') {
    const match = /Code: (\d+)/.exec(record.message);
    if (match?.[1] !== undefined) return Number(match[1]);
  }
  return undefined;
}

/** The engine's message, trimmed to its first line and bounded (no stack dumps in API errors). */
function engineMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split('\n')[0] ?? text;
  return first.length > 500 ? `${first.slice(0, 500)}…` : first;
}

function isAbort(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return err.name === 'AbortError' || code === 'CHDB_ABORT' || code === 'ABORT_ERR';
}

/** Translate an engine error where it enters our code. `fallback` is the code for "other". */
export function translateEngineError(
  err: unknown,
  what: string,
  fallback: CollectorErrorCode = 'STORE_QUERY',
): CollectorError {
  if (err instanceof CollectorError) return err;
  if (isAbort(err))
    return new CollectorError('STORE_ABORTED', `${what}: cancelled`, { cause: err });
  const code = engineCode(err);
  let ours: CollectorErrorCode = fallback;
  if (code === READONLY || code === ACCESS_DENIED) ours = 'STORE_READONLY';
  else if (code === SYNTAX) ours = 'STORE_SYNTAX';
  else if (code === QUERY_WAS_CANCELLED) ours = 'STORE_ABORTED';
  return new CollectorError(ours, `${what}: ${engineMessage(err)}`, { cause: err });
}
