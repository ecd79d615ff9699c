import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SqlEndpointError } from '../errors.js';
import { BodyTooLargeError, readBody } from '../http.js';

/**
 * Reading a request of ClickHouse's HTTP interface, without judging it: the URL
 * parameters sorted into statement, `param_<name>` values, `default_format`,
 * `database`, `query_id` and settings; then the POST body. What a server allows of
 * them is its own policy (the SQL endpoint only reads, routes/sql.ts).
 */

/** What the URL of a request says. */
export interface ClickHouseUrlRequest {
  /** The URL `query` parameter ('' when absent). */
  query: string;
  /** `param_<name>` values by name, as sent (ClickHouse's escaped text form). */
  params: Record<string, string>;
  /** `default_format`, when sent. */
  format?: string;
  /** `database`, when sent. */
  database?: string;
  /** `query_id` when it is a plain id, otherwise a fresh UUID. */
  queryId: string;
  /** Every other URL parameter, in URL order: settings as far as ClickHouse is concerned. */
  settings: [name: string, value: string][];
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const QUERY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * URL parameters ClickHouse clients send that concern the transport, not the
 * result; dropped here. `user`/`password` are dropped too: credentials in URLs end
 * up in access logs, so a key must come as basic auth or `X-ClickHouse-Key`.
 */
export const TRANSPORT_PARAMS: ReadonlySet<string> = new Set([
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

/** Sort the URL parameters; throws SYNTAX_ERROR for a `param_` name that is not an identifier. */
export function parseClickHouseUrl(search: URLSearchParams): ClickHouseUrlRequest {
  const params: Record<string, string> = {};
  const settings: [string, string][] = [];
  let format: string | undefined;
  let database: string | undefined;
  for (const [name, value] of search) {
    if (name === 'query' || TRANSPORT_PARAMS.has(name)) continue;
    if (name === 'default_format') {
      format = value;
    } else if (name === 'database') {
      database = value;
    } else if (name.startsWith('param_')) {
      const key = name.slice('param_'.length);
      if (!PARAM_NAME.test(key)) {
        throw new SqlEndpointError(
          'SYNTAX_ERROR',
          `query parameter name "${key.slice(0, 64)}" is not an identifier`,
        );
      }
      params[key] = value;
    } else {
      settings.push([name, value]);
    }
  }
  const askedId = search.get('query_id');
  const request: ClickHouseUrlRequest = {
    query: search.get('query') ?? '',
    params,
    queryId: askedId !== null && QUERY_ID.test(askedId) ? askedId : randomUUID(),
    settings,
  };
  if (format !== undefined) request.format = format;
  if (database !== undefined) request.database = database;
  return request;
}

/**
 * The POST body as text, at most `maxBytes`: QUERY_IS_TOO_LARGE past that,
 * NOT_IMPLEMENTED for a compressed or multipart body.
 */
export async function readClickHouseBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw new SqlEndpointError(
      'NOT_IMPLEMENTED',
      `Content-Encoding ${encoding.slice(0, 32)} is not supported`,
    );
  }
  if ((req.headers['content-type'] ?? '').startsWith('multipart/')) {
    throw new SqlEndpointError(
      'NOT_IMPLEMENTED',
      'multipart bodies are not supported; send param_<name> in the URL',
    );
  }
  try {
    return await readBody(req, maxBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      throw new SqlEndpointError('QUERY_IS_TOO_LARGE', `the query is over ${maxBytes} bytes`);
    }
    throw err;
  }
}

/**
 * The statement text ClickHouse reads: the URL `query`, then the body, joined by a
 * newline (an INSERT's data follows its `FORMAT` clause that way).
 */
export function joinStatement(query: string, body: string): string {
  const parts: string[] = [];
  if (query !== '') parts.push(query);
  if (body.trim() !== '') parts.push(body);
  return parts.join('\n');
}
