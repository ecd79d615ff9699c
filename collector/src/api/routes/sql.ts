import type { ServerResponse } from 'node:http';
import { SqlEndpointError } from '../errors.js';
import { sendText, writeChunk } from '../http.js';
import type { RequestContext, Route } from '../router.js';
import { PROTECTED_SETTINGS, classifyStatement } from '../sql/classify.js';
import { toClickHouseError } from '../sql/engine_error.js';
import { DEFAULT_FORMAT, contentTypeOf, isFormatName } from '../sql/formats.js';
import { isUnstreamable, selectRows } from '../sql/replay.js';
import { joinStatement, parseClickHouseUrl, readClickHouseBody } from '../sql/request.js';
import type { Outcome } from '../../admin/index.js';
import type { SqlOutcome } from '../telemetry.js';
import type { RouteDeps } from '../types.js';

/**
 * The read-only SQL endpoint: a subset of ClickHouse's HTTP interface at `/sql`, so
 * ClickHouse clients and plain curl can query the collector's store. The statement
 * passes the read-only classifier, then runs in the store with `readonly` set (the
 * engine's own guard). Errors use ClickHouse's shape and headers.
 */

/** Bound on a statement (URL `query` plus body). */
export const MAX_QUERY_BYTES = 1 << 20;

/** Admin log outcome of a statement: refused by the read-only check is a denial. */
const AUDIT_OUTCOMES: Record<SqlOutcome, Outcome> = {
  ok: 'success',
  aborted: 'success',
  refused: 'denied',
  failed: 'error',
};

interface SqlRequest {
  text: string;
  format?: string;
  params: Record<string, string>;
  queryId: string;
}

/** This endpoint's policy on what a ClickHouse HTTP request may ask (sql/request.ts reads it). */
async function readRequest(deps: RouteDeps, ctx: RequestContext): Promise<SqlRequest> {
  const url = parseClickHouseUrl(ctx.url.searchParams);
  const { database } = url;
  // Unqualified names always resolve in the store's database; `default` is accepted
  // because many clients send it whether asked or not.
  if (
    database !== undefined &&
    database !== '' &&
    database !== 'default' &&
    database !== deps.store.database
  ) {
    throw new SqlEndpointError(
      'UNKNOWN_DATABASE',
      `database=${database.slice(0, 64)} cannot be selected here: unqualified tables are in ${deps.store.database}; qualify others (system.tables)`,
    );
  }
  for (const [name, value] of url.settings) {
    // Asking for read-only is what this endpoint does anyway.
    if (name === 'readonly' && (value === '1' || value === '2')) continue;
    if (PROTECTED_SETTINGS.has(name)) {
      throw new SqlEndpointError(
        'READONLY',
        `Cannot execute query in readonly mode: setting ${name} cannot be changed`,
      );
    }
    throw new SqlEndpointError(
      'UNKNOWN_SETTING',
      `URL parameter "${name.slice(0, 64)}" is not supported here; put settings in a SETTINGS clause`,
    );
  }

  const body = ctx.req.method === 'POST' ? await readClickHouseBody(ctx.req, MAX_QUERY_BYTES) : '';
  const text = joinStatement(url.query, body);
  if (Buffer.byteLength(text) > MAX_QUERY_BYTES) {
    throw new SqlEndpointError('QUERY_IS_TOO_LARGE', `the query is over ${MAX_QUERY_BYTES} bytes`);
  }
  const request: SqlRequest = { text, params: url.params, queryId: url.queryId };
  if (url.format !== undefined) request.format = url.format;
  return request;
}

export function sendClickHouseError(res: ServerResponse, err: unknown, queryId?: string): number {
  const ch = toClickHouseError(err);
  res.setHeader('x-clickhouse-exception-code', String(ch.code));
  if (queryId !== undefined) res.setHeader('x-clickhouse-query-id', queryId);
  sendText(res, ch.status, 'text/plain; charset=UTF-8', ch.text);
  return ch.code;
}

function summary(elapsedNs: bigint): string {
  // Sent with the headers, before the rows stream, as ClickHouse does without
  // wait_end_of_query: the counters are not known yet.
  const zero = '0';
  return JSON.stringify({
    read_rows: zero,
    read_bytes: zero,
    written_rows: zero,
    written_bytes: zero,
    total_rows_to_read: zero,
    result_rows: zero,
    result_bytes: zero,
    elapsed_ns: elapsedNs.toString(),
  });
}

async function runSql(deps: RouteDeps, ctx: RequestContext): Promise<void> {
  const started = process.hrtime.bigint();
  const { res } = ctx;
  let request: SqlRequest | undefined;
  let keyword: string | undefined;
  let resultBytes = 0;
  const report = (
    outcome: SqlOutcome,
    details: { keyword?: string; code?: number; chars: number },
  ): void => {
    deps.telemetry.sqlStatement(outcome, details);
    const metadata: Record<string, unknown> = {
      query: request?.text ?? '',
      resultBytes,
      aborted: outcome === 'aborted',
    };
    if (request) metadata.queryId = request.queryId;
    if (details.code !== undefined) metadata.code = details.code;
    deps.audit.record({
      action: 'sql.query',
      outcome: AUDIT_OUTCOMES[outcome],
      orgId: '',
      principal: ctx.principal,
      req: ctx.req,
      metadata,
    });
  };
  try {
    request = await readRequest(deps, ctx);
    if (request.text === '' && ctx.req.method === 'GET') {
      // A GET without a statement is how ClickHouse clients probe the base URL.
      sendText(res, 200, 'text/plain; charset=UTF-8', 'Ok.\n');
      return;
    }
    const statement = classifyStatement(request.text);
    keyword = statement.keyword;
    const format = statement.format ?? request.format ?? DEFAULT_FORMAT;
    if (!isFormatName(format)) {
      throw new SqlEndpointError('UNKNOWN_FORMAT', `"${format.slice(0, 64)}" is not a format name`);
    }
    const options = { readonly: true, signal: ctx.signal };
    const open = (sql: string, params: Record<string, unknown>): AsyncIterator<Uint8Array> =>
      deps.store.queryStream(sql, params, format, options)[Symbol.asyncIterator]();
    let chunks = open(statement.sql, request.params);
    // The first chunk decides between a result and an error status.
    let next: IteratorResult<Uint8Array>;
    try {
      try {
        next = await chunks.next();
      } catch (err) {
        if (!isUnstreamable(err)) throw err;
        const rows = await deps.store.query(statement.sql, request.params, options);
        const replay = selectRows(rows);
        if (!replay) {
          next = { done: true, value: undefined };
        } else {
          chunks = open(replay.sql, replay.params);
          next = await chunks.next();
        }
      }
    } catch (err) {
      const code = sendClickHouseError(res, err, request.queryId);
      report('failed', { keyword, code, chars: request.text.length });
      return;
    }
    res.writeHead(200, {
      'content-type': contentTypeOf(format),
      'x-clickhouse-format': format,
      'x-clickhouse-query-id': request.queryId,
      'x-clickhouse-timezone': 'UTC',
      'x-clickhouse-summary': summary(process.hrtime.bigint() - started),
      'cache-control': 'no-store',
    });
    try {
      while (!next.done && !ctx.signal.aborted) {
        resultBytes += next.value.length;
        await writeChunk(res, next.value, ctx.signal);
        next = await chunks.next();
      }
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      // Mid-stream failure: the status is already sent. Like ClickHouse, append the
      // exception to the body, then cut the connection so the response cannot be
      // mistaken for a complete one.
      const ch = toClickHouseError(err);
      report('failed', { keyword, code: ch.code, chars: request.text.length });
      res.write(`\n${ch.text}`, () => res.destroy());
      return;
    } finally {
      await chunks.return?.();
    }
    if (ctx.signal.aborted) {
      report('aborted', { keyword, chars: request.text.length });
      return;
    }
    res.end();
    report('ok', { keyword, chars: request.text.length });
  } catch (err) {
    if (ctx.signal.aborted) {
      report('aborted', { chars: request?.text.length ?? 0 });
      return;
    }
    if (res.headersSent) throw err;
    const code = sendClickHouseError(res, err, request?.queryId);
    const outcome = err instanceof SqlEndpointError ? 'refused' : 'failed';
    const details: { keyword?: string; code: number; chars: number } = {
      code,
      chars: request?.text.length ?? 0,
    };
    if (keyword !== undefined) details.keyword = keyword;
    report(outcome, details);
  }
}

export function sqlRoutes(deps: RouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/sql/ping',
      name: 'sql_ping',
      access: 'open',
      handle: ({ res }) => {
        sendText(res, 200, 'text/plain; charset=UTF-8', 'Ok.\n');
        return Promise.resolve();
      },
    },
    {
      method: 'GET',
      path: '/sql',
      name: 'sql',
      access: 'read',
      scope: 'all',
      audit: 'sql.query',
      clickhouseErrors: true,
      handle: (ctx) => runSql(deps, ctx),
    },
    {
      method: 'POST',
      path: '/sql',
      name: 'sql',
      access: 'read',
      scope: 'all',
      audit: 'sql.query',
      clickhouseErrors: true,
      handle: (ctx) => runSql(deps, ctx),
    },
  ];
}
