/**
 * TEST ONLY: a ClickHouse server for the collector's server-mode store, without a
 * ClickHouse server binary. It speaks the part of ClickHouse's HTTP interface that
 * `@clickhouse/client` uses and runs every statement in the real engine (chDB) in a
 * temp dir. Unlike the collector's `/sql` endpoint it allows writes: INSERT, DDL,
 * everything the store does to a server. It must never be reachable from `src/`.
 *
 * It reuses the `/sql` endpoint's request reading (sql/request.ts) and error
 * rendering (ClickHouse's `Code: N. DB::Exception: …` body and
 * `X-ClickHouse-Exception-Code`), and behaves like a server where that matters:
 * - URL settings apply to the request only: each request gets a chDB connection of
 *   its own, opened with those settings, so one request's `insert_deduplication_token`
 *   never leaks into the next. A setting the engine does not know is refused (115);
 * - `readonly` (and GET, which ClickHouse runs with `readonly=2`) opens the connection
 *   read-only, after the other settings, as the server applies it;
 * - `database` must exist (81 otherwise), as on a server;
 * - `param_<name>` values are bound as sent (ClickHouse's escaped text form);
 * - one statement per request: chDB would run every statement of `a; b`, a server
 *   refuses it (62);
 * - SELECT results stream chunk by chunk; an error after the first chunk is appended
 *   to the body and the connection is cut, as ClickHouse does without
 *   `wait_end_of_query`.
 * Response compression is never applied (the client then reads plain bytes).
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Session } from 'chdb';
import { SqlEndpointError } from '../../src/api/errors.js';
import { sendText, writeChunk } from '../../src/api/http.js';
import { sendClickHouseError } from '../../src/api/routes/sql.js';
import { toClickHouseError } from '../../src/api/sql/engine_error.js';
import { contentTypeOf } from '../../src/api/sql/formats.js';
import { tokenize } from '../../src/api/sql/lexer.js';
import {
  joinStatement,
  parseClickHouseUrl,
  readClickHouseBody,
} from '../../src/api/sql/request.js';

/** One request as the fixture understood it, for tests that check what the client sent. */
export interface SeenRequest {
  method: string;
  path: string;
  /** The statement (without an INSERT's data), first 500 characters. */
  statement: string;
  settings: Record<string, string>;
  params: Record<string, string>;
  database?: string;
  queryId: string;
}

export interface ChdbHttpServer {
  /** Base URL (`http://127.0.0.1:<port>`), for `clickhouse.url` or `createClient`. */
  readonly url: string;
  /** Requests answered so far (the last 1000), oldest first. */
  readonly requests: readonly SeenRequest[];
  /** Stop listening, cut open requests, close the engine. Idempotent. */
  close(): Promise<void>;
}

/** Bound on a request body (an INSERT's rows). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
const MAX_SEEN = 1000;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Statements chDB can stream; everything else runs to completion first. */
const STREAMED = new Set(['SELECT', 'WITH']);

function sqlString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

interface Statement {
  /** First keyword, upper case. */
  keyword: string;
  /** A trailing `FORMAT <name>` clause, when there is one. */
  format?: string;
}

/** What a server's parser would refuse before running anything: nothing, or two statements. */
function inspect(head: string): Statement {
  let tokens = tokenize(head);
  while (tokens.at(-1)?.text === ';') tokens = tokens.slice(0, -1);
  if (tokens.length === 0) throw new SqlEndpointError('EMPTY_QUERY');
  if (tokens.some((token) => token.type === 'punct' && token.text === ';')) {
    throw new SqlEndpointError('SYNTAX_ERROR', 'Multi-statements are not allowed');
  }
  let depth = 0;
  let format: string | undefined;
  tokens.forEach((token, i) => {
    if (token.type === 'punct' && '([{'.includes(token.text)) depth += 1;
    if (token.type === 'punct' && ')]}'.includes(token.text)) depth -= 1;
    const next = tokens[i + 1];
    if (depth === 0 && token.text.toUpperCase() === 'FORMAT' && next?.type === 'word') {
      format = next.text;
    }
  });
  const first = tokens.find((token) => token.type === 'word');
  const statement: Statement = { keyword: first?.text.toUpperCase() ?? '' };
  if (format !== undefined) statement.format = format;
  return statement;
}

function summary(read: { rows: number; bytes: number }, elapsedNs: bigint): string {
  return JSON.stringify({
    read_rows: String(read.rows),
    read_bytes: String(read.bytes),
    written_rows: '0',
    written_bytes: '0',
    total_rows_to_read: '0',
    result_rows: '0',
    result_bytes: '0',
    elapsed_ns: elapsedNs.toString(),
  });
}

/** Start the fixture on a free loopback port, with the engine's files in `<dir>/clickhouse`. */
export async function startChdbHttpServer(dir: string): Promise<ChdbHttpServer> {
  const chdb = await import('chdb');
  const path = join(dir, 'clickhouse');
  mkdirSync(path, { recursive: true });
  // The first connection of a process binds the data directory; it stays open for the
  // fixture's life and answers the fixture's own questions.
  const main = new chdb.Session(path, { connectionArgs: [] });
  const known = new Set(
    (await main.queryAsync('SELECT name FROM system.settings', { format: 'JSONEachRow' }))
      .text()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as { name: string }).name),
  );
  const open = new Set<Session>();
  const requests: SeenRequest[] = [];

  /** A connection with this request's settings; read-only last, as a server applies it. */
  const connect = (settings: [string, string][], method: string): Session => {
    const args: string[] = [];
    let readonly = method === 'GET' ? '2' : undefined;
    for (const [name, value] of settings) {
      if (!IDENTIFIER.test(name) || !known.has(name)) {
        throw new SqlEndpointError('UNKNOWN_SETTING', `Unknown setting '${name.slice(0, 64)}'`);
      }
      if (name === 'readonly') readonly = value;
      else args.push(`--${name}=${value}`);
    }
    if (readonly !== undefined && readonly !== '0') args.push(`--readonly=${readonly}`);
    const session = new chdb.Session(path, { connectionArgs: args });
    open.add(session);
    return session;
  };

  const release = (session: Session | undefined): void => {
    if (!session) return;
    open.delete(session);
    session.close();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://fixture');
    const method = req.method ?? 'GET';
    if (url.pathname === '/ping' && method === 'GET') {
      sendText(res, 200, 'text/plain; charset=UTF-8', 'Ok.\n');
      return;
    }
    if (url.pathname !== '/' || (method !== 'GET' && method !== 'POST')) {
      sendText(res, 404, 'text/plain; charset=UTF-8', `no ${method} ${url.pathname} here\n`);
      return;
    }
    const aborted = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborted.abort();
    });
    const request = (() => {
      try {
        return parseClickHouseUrl(url.searchParams);
      } catch (err) {
        sendClickHouseError(res, err);
        return undefined;
      }
    })();
    if (!request) return;
    let session: Session | undefined;
    try {
      const body = method === 'POST' ? await readClickHouseBody(req, MAX_BODY_BYTES) : '';
      const text = joinStatement(request.query, body);
      if (text === '' && method === 'GET') {
        sendText(res, 200, 'text/plain; charset=UTF-8', 'Ok.\n');
        return;
      }
      // With a statement in the URL and a body, the body is the statement's data.
      const head = request.query !== '' && body.trim() !== '' ? request.query : text;
      const seen: SeenRequest = {
        method,
        path: url.pathname,
        statement: head.slice(0, 500),
        settings: Object.fromEntries(request.settings),
        params: request.params,
        queryId: request.queryId,
      };
      if (request.database !== undefined) seen.database = request.database;
      requests.push(seen);
      if (requests.length > MAX_SEEN) requests.shift();

      const statement = inspect(head);
      session = connect(request.settings, method);
      if (request.database !== undefined && request.database !== '') {
        await session.queryAsync(`USE ${quoteIdentifier(request.database)}`);
      }
      for (const [name, value] of Object.entries(request.params)) {
        await session.queryAsync(`SET param_${name} = ${sqlString(value)}`);
      }
      const format = statement.format ?? request.format ?? 'TabSeparated';
      const headers = {
        'content-type': contentTypeOf(format),
        'x-clickhouse-format': format,
        'x-clickhouse-query-id': request.queryId,
        'x-clickhouse-timezone': 'UTC',
      };
      const options = { format, signal: aborted.signal };

      if (!STREAMED.has(statement.keyword) || head !== text) {
        const result = await session.queryAsync(text, options);
        res.writeHead(200, {
          ...headers,
          'x-clickhouse-summary': summary(
            { rows: result.rowsRead, bytes: result.bytesRead },
            process.hrtime.bigint() - started,
          ),
        });
        res.end(result.bytes());
        return;
      }

      const chunks = session.queryStream(text, options)[Symbol.asyncIterator]();
      try {
        // The first chunk decides between a result and an error status.
        let next = await chunks.next();
        res.writeHead(200, {
          ...headers,
          'x-clickhouse-summary': summary({ rows: 0, bytes: 0 }, process.hrtime.bigint() - started),
        });
        try {
          while (!next.done && !aborted.signal.aborted) {
            await writeChunk(res, next.value.raw(), aborted.signal);
            next = await chunks.next();
          }
        } catch (err) {
          if (aborted.signal.aborted) return;
          res.write(`\n${toClickHouseError(err).text}`, () => res.destroy());
          return;
        }
        if (!aborted.signal.aborted) res.end();
      } finally {
        await chunks.return?.();
      }
    } catch (err) {
      if (aborted.signal.aborted) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendClickHouseError(res, err, request.queryId);
    } finally {
      release(session);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
          server.closeAllConnections();
        });
        for (const session of open) session.close();
        open.clear();
        main.close();
      })();
      return closing;
    },
  };
}
