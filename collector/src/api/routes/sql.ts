import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { SqlEndpointError } from '../errors.js';
import { BodyTooLargeError, readBody, sendText, writeChunk } from '../http.js';
import type { RequestContext, Route } from '../router.js';
import { PROTECTED_SETTINGS, classifyStatement } from '../sql/classify.js';
import { toClickHouseError } from '../sql/engine_error.js';
import { DEFAULT_FORMAT, contentTypeOf, isFormatName } from '../sql/formats.js';
import { isUnstreamable, selectRows } from '../sql/replay.js';
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

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const QUERY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * URL parameters ClickHouse clients send that concern the transport, not the
 * result; accepted and ignored. `user`/`password` are ignored too: credentials in URLs
 * end up in access logs, so the key must come as basic auth or `X-ClickHouse-Key`.
 */
const TRANSPORT_PARAMS = new Set([
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'user',
  'password',
  'quota_key',
  'role',
  'compress',
  'decompress',
  'enable_http_compression',
  'http_zlib_compression_level',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'wait_end_of_query',
  'buffer_size',
  'http_response_buffer_size',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
]);

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

async function readRequest(deps: RouteDeps, ctx: RequestContext): Promise<SqlRequest> {
  const search = ctx.url.searchParams;
  const params: Record<string, string> = {};
  let format: string | undefined;
  for (const [name, value] of search) {
    if (name === 'query' || TRANSPORT_PARAMS.has(name)) continue;
    if (name === 'default_format') {
      format = value;
    } else if (name === 'database') {
      // Unqualified names always resolve in the store's database; `default` is
      // accepted because many clients send it whether asked or not.
      if (value !== '' && value !== 'default' && value !== deps.store.database) {
        throw new SqlEndpointError(
          'UNKNOWN_DATABASE',
          `database=${value.slice(0, 64)} cannot be selected here: unqualified tables are in ${deps.store.database}; qualify others (system.tables)`,
        );
      }
    } else if (name.startsWith('param_')) {
      const key = name.slice('param_'.length);
      if (!PARAM_NAME.test(key)) {
        throw new SqlEndpointError(
          'SYNTAX_ERROR',
          `query parameter name "${key.slice(0, 64)}" is not an identifier`,
        );
      }
      params[key] = value;
    } else if (name === 'readonly' && (value === '1' || value === '2')) {
      // Asking for read-only is what this endpoint does anyway.
    } else if (PROTECTED_SETTINGS.has(name)) {
      throw new SqlEndpointError(
        'READONLY',
        `Cannot execute query in readonly mode: setting ${name} cannot be changed`,
      );
    } else {
      throw new SqlEndpointError(
        'UNKNOWN_SETTING',
        `URL parameter "${name.slice(0, 64)}" is not supported here; put settings in a SETTINGS clause`,
      );
    }
  }

  const parts: string[] = [];
  const inUrl = search.get('query');
  if (inUrl !== null && inUrl !== '') parts.push(inUrl);
  if (ctx.req.method === 'POST') {
    const encoding = ctx.req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      throw new SqlEndpointError(
        'NOT_IMPLEMENTED',
        `Content-Encoding ${encoding.slice(0, 32)} is not supported`,
      );
    }
    if ((ctx.req.headers['content-type'] ?? '').startsWith('multipart/')) {
      throw new SqlEndpointError(
        'NOT_IMPLEMENTED',
        'multipart bodies are not supported; send param_<name> in the URL',
      );
    }
    try {
      const body = await readBody(ctx.req, MAX_QUERY_BYTES);
      if (body.trim() !== '') parts.push(body);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new SqlEndpointError(
          'QUERY_IS_TOO_LARGE',
          `the query is over ${MAX_QUERY_BYTES} bytes`,
        );
      }
      throw err;
    }
  }
  const text = parts.join('\n');
  if (Buffer.byteLength(text) > MAX_QUERY_BYTES) {
    throw new SqlEndpointError('QUERY_IS_TOO_LARGE', `the query is over ${MAX_QUERY_BYTES} bytes`);
  }
  const askedId = search.get('query_id');
  const queryId = askedId !== null && QUERY_ID.test(askedId) ? askedId : randomUUID();
  const request: SqlRequest = { text, params, queryId };
  if (format !== undefined) request.format = format;
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
