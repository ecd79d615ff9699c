import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createHttpStore } from '../../src/store/clickhouse_http.js';
import { CollectorError } from '../../src/errors.js';
import { sessionRow } from '../helpers/rows.js';

/**
 * No ClickHouse server here: a plain HTTP endpoint records what the client sends and
 * answers like ClickHouse would, so the request shape (settings, parameters, FORMAT,
 * dedup token) is checked. Behaviour against a real server is the integration tests'.
 */
interface Seen {
  url: URL;
  body: string;
}

const seen: Seen[] = [];
let reply: { status: number; body: string; headers?: Record<string, string> } = {
  status: 200,
  body: '',
};
let server: Server;
let url: string;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ url: new URL(req.url ?? '/', 'http://x'), body });
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
  reply = { status: 200, body: '' };
});

function store(cluster?: string) {
  return createHttpStore({
    url,
    username: 'u',
    password: 'p',
    database: 'connlog',
    log,
    ...(cluster ? { cluster } : {}),
  });
}

function sentQuery(request: Seen): string {
  return request.url.searchParams.get('query') ?? request.body;
}

describe('ClickHouse HTTP store', () => {
  it('sends read-only queries with parameters and parses JSONEachRow', async () => {
    reply = { status: 200, body: '{"n":1}\n{"n":2}\n' };
    const s = store();
    const rows = await s.query(
      'SELECT n FROM t WHERE org_id = {org:String};',
      { org: 'acme' },
      { readonly: true },
    );
    expect(rows).toEqual([{ n: 1 }, { n: 2 }]);
    const request = seen[0];
    if (!request) throw new Error('no request');
    expect(request.url.searchParams.get('readonly')).toBe('1');
    expect(request.url.searchParams.get('param_org')).toBe('acme');
    expect(request.url.searchParams.get('database')).toBe('connlog');
    expect(request.url.searchParams.get('output_format_json_quote_64bit_integers')).toBe('0');
    expect(sentQuery(request)).toMatch(
      /^SELECT n FROM t WHERE org_id = \{org:String\}\s*\nFORMAT JSONEachRow$/,
    );
    await s.close();
    await s.close();
  });

  it('does not send readonly for internal queries', async () => {
    reply = { status: 200, body: '{"one":1}\n' };
    const s = store();
    await s.query('SELECT 1 AS one');
    expect(seen[0]?.url.searchParams.get('readonly')).toBeNull();
    await s.close();
  });

  it('inserts JSONEachRow with the dedup token and without status', async () => {
    const s = store();
    const row = sessionRow();
    await s.insertSessions([row], { dedupToken: 'tok-1' });
    const request = seen[0];
    if (!request) throw new Error('no request');
    expect(request.url.searchParams.get('query')).toMatch(
      /INSERT INTO connlog\.sessions.*FORMAT JSONEachRow/s,
    );
    expect(request.url.searchParams.get('insert_deduplication_token')).toBe('tok-1');
    const sent = JSON.parse(request.body.trim()) as Record<string, unknown>;
    expect(sent.session_id).toBe(row.session_id);
    expect(sent).not.toHaveProperty('status');
    await s.close();
  });

  it('streams the raw bytes of the requested format', async () => {
    reply = { status: 200, body: 'a,1\nb,2\n' };
    const s = store();
    let text = '';
    for await (const chunk of s.queryStream('SELECT x, y FROM t', { p: 1 }, 'CSV', {
      readonly: true,
    })) {
      text += Buffer.from(chunk).toString('utf8');
    }
    expect(text).toBe('a,1\nb,2\n');
    const request = seen[0];
    if (!request) throw new Error('no request');
    expect(sentQuery(request)).toBe('SELECT x, y FROM t\nFORMAT CSV');
    expect(request.url.searchParams.get('readonly')).toBe('1');
    expect(request.url.searchParams.get('param_p')).toBe('1');
    await s.close();
  });

  it('translates a refusal in read-only mode to STORE_READONLY', async () => {
    reply = {
      status: 500,
      body: 'Code: 164. DB::Exception: default: Cannot execute query in readonly mode. (READONLY)',
      headers: { 'X-ClickHouse-Exception-Code': '164' },
    };
    const s = store();
    const err = await s.query('DROP TABLE x', {}, { readonly: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CollectorError);
    expect((err as CollectorError).code).toBe('STORE_READONLY');
    await s.close();
  });

  it('runs cluster DDL ON CLUSTER and inserts synchronously through Distributed', async () => {
    const s = store('prod');
    // Every statement answers empty; the ledger query returns no versions.
    await s.migrate();
    const statements = seen.map(sentQuery);
    const ddl = statements.filter((q) => q.startsWith('CREATE'));
    expect(ddl.length).toBeGreaterThan(4);
    for (const statement of ddl) expect(statement).toContain('ON CLUSTER prod');
    seen.length = 0;
    await s.insertSessions([sessionRow()]);
    expect(seen[0]?.url.searchParams.get('distributed_foreground_insert')).toBe('1');
    await s.close();
  });

  it('refuses format names that are not names', () => {
    const s = store();
    expect(() => s.queryStream('SELECT 1', {}, 'CSV; DROP')).toThrow(/format/);
  });
});
