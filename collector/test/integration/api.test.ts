import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import { Registry } from '@connlog/metrics';
import { tempDir, waitFor } from '@connlog/testkit';
import { Command } from 'commander';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ITEM_FIELDS } from '../../src/api/columns.js';
import { decodeCursor } from '../../src/api/cursor.js';
import { createApiServer } from '../../src/api/server.js';
import type { ApiServer, HealthStatus } from '../../src/api/server.js';
import { registerSqlCommand } from '../../src/cli/sql.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { SessionRow, Store } from '../../src/store/store.js';

/**
 * The API over real HTTP, on the real embedded ClickHouse in a temp dir. Rows go in
 * through `store.insertSessions`, exactly as the ingest path stores them.
 */

const log = pino({ level: 'silent' });
const dir = tempDir('api');
const metrics = new Registry();
let store: Store;
let server: ApiServer;
let base: string;
let health: HealthStatus = { ok: true, store: 'embedded' };

const NOW = Date.now();
const HOUR = 3_600_000;
let idCounter = 0;

/** Deterministic UUIDs; the counter keeps them unique across the file. */
function uuid(): string {
  idCounter += 1;
  return `0190a8a0-0000-7000-8000-${idCounter.toString(16).padStart(12, '0')}`;
}

function row(overrides: Partial<SessionRow> = {}): SessionRow {
  const startedAt = overrides.started_at ?? NOW - HOUR;
  const ended = overrides.ended_at === undefined ? startedAt + 1500 : overrides.ended_at;
  return {
    org_id: 'acme',
    site_id: 'berlin',
    agent_id: 'agent-1',
    resource_id: 'db',
    session_id: uuid(),
    protocol: 'tcp',
    client_id: 'laptop-1',
    user_id: 'alice',
    source_ip: '::ffff:10.0.0.1',
    source_port: 40001,
    dest_ip: '::ffff:10.1.0.5',
    dest_port: 5432,
    dest_host: 'db.internal',
    started_at: startedAt,
    ended_at: ended,
    duration_ms: ended === null ? 0 : ended - startedAt,
    bytes_tx: 100,
    bytes_rx: 200,
    packets_tx: 3,
    packets_rx: 4,
    close_reason: ended === null ? '' : 'client_closed',
    error: '',
    status: ended === null ? 'ongoing' : 'completed',
    retention_days: 30,
    version: 2,
    ...overrides,
  };
}

// The main data set: org acme, all within the last 24 h unless said otherwise.
const S1 = row({ started_at: NOW - 5 * HOUR });
const S2 = row({
  started_at: NOW - 4 * HOUR,
  protocol: 'udp',
  site_id: 'paris',
  resource_id: 'dns',
  user_id: 'bob',
  client_id: 'phone-2',
  source_ip: '::ffff:10.0.0.2',
  source_port: 40002,
  dest_ip: '::ffff:10.1.0.53',
  dest_port: 53,
  dest_host: 'dns.internal',
  close_reason: 'idle_timeout',
  bytes_tx: 50,
  bytes_rx: 50,
});
const S3 = row({
  started_at: NOW - 3 * HOUR,
  resource_id: 'web',
  source_ip: '2001:db8::10',
  source_port: 50000,
  dest_ip: '2001:db8:1::5',
  dest_port: 443,
  dest_host: 'web.internal',
  ended_at: null,
  bytes_tx: 5000,
  bytes_rx: 10000,
});
const S4 = row({
  started_at: NOW - 2 * HOUR,
  site_id: 'paris',
  user_id: 'carol',
  client_id: 'desk-4',
  source_ip: '::ffff:192.168.1.7',
  source_port: 40004,
  close_reason: 'dial_failed',
  error: 'connect ECONNREFUSED 10.1.0.5:5432',
  bytes_tx: 0,
  bytes_rx: 0,
});
const S5 = row({
  started_at: NOW - 1 * HOUR,
  user_id: "=cmd|' /C calc'!A0",
  client_id: 'x,"y"',
  dest_host: 'multi\nline',
});
const OLD = row({ started_at: NOW - 72 * HOUR });
const OTHER_ORG = row({ org_id: 'other', started_at: NOW - 2 * HOUR });
const ACME_RECENT = [S5, S4, S3, S2, S1];

async function get(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${base}${path}`, init);
}

// The type parameter only narrows the parsed body for the assertions that follow.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
async function json<T = Record<string, unknown>>(
  path: string,
): Promise<{ status: number; body: T }> {
  const res = await get(path);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: res.status, body: (await res.json()) as T };
}

interface Page {
  items: Record<string, unknown>[];
  nextCursor: string | null;
  count?: number;
  countCapped?: boolean;
}

async function ids(query: string, org = 'acme'): Promise<string[]> {
  const { status, body } = await json<Page>(`/api/v1/orgs/${org}/network-logs?${query}`);
  expect(status, JSON.stringify(body)).toBe(200);
  return body.items.map((item) => String(item.session_id));
}

const idsOf = (rows: SessionRow[]): string[] => rows.map((r) => r.session_id);

beforeAll(async () => {
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  // S3 arrives as two versions (START then UPDATE); the view shows the latest only.
  await store.insertSessions([{ ...S3, version: 1, bytes_tx: 1, bytes_rx: 1 }]);
  await store.insertSessions([...ACME_RECENT, OLD, OTHER_ORG]);
  server = createApiServer({
    store,
    log,
    metrics,
    config: { http: { listen: '127.0.0.1:0' } },
    health: () => health,
    events: { onRowsStored: () => () => undefined },
  });
  base = `http://${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
  await store.close();
  dir.remove();
});

describe('health, metrics, openapi', () => {
  it('serves /healthz as JSON, 503 when unhealthy', async () => {
    expect(await json('/healthz')).toEqual({
      status: 200,
      body: { ok: true, store: 'embedded' },
    });
    health = { ok: false, store: 'down' };
    expect((await json('/healthz')).status).toBe(503);
    health = { ok: true, store: 'embedded' };
  });

  it('counts requests by route and status in /metrics', async () => {
    await get('/api/v1/orgs/acme/network-logs');
    await get('/no/such/route');
    const res = await get('/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(
      /connlog_collector_http_requests_total\{route="healthz",status="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /connlog_collector_http_requests_total\{route="network_logs_list",status="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /connlog_collector_http_requests_total\{route="unmatched",status="404"\} 1/,
    );
    expect(text).toMatch(
      /connlog_collector_http_request_duration_seconds_count\{route="healthz"\}/,
    );
  });

  it('serves the OpenAPI document', async () => {
    const { status, body } = await json<{ openapi: string; paths: object }>('/api/v1/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toContain('/api/v1/orgs/{org}/network-logs');
  });

  it('answers unknown routes and wrong methods with catalogue errors', async () => {
    const missing = await json<{ error: { code: string } }>('/api/v2/nothing');
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    const res = await get('/api/v1/orgs/acme/network-logs', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'METHOD_NOT_ALLOWED',
    );
  });
});

describe('GET /network-logs', () => {
  it('lists the last 24 h of the org, newest first, one row per session', async () => {
    const { status, body } = await json<Page>('/api/v1/orgs/acme/network-logs');
    expect(status).toBe(200);
    expect(body.items.map((i) => i.session_id)).toEqual(idsOf(ACME_RECENT));
    expect(body.nextCursor).toBeNull();
    expect(body.count).toBeUndefined();
  });

  it('returns every column with API types', async () => {
    const { body } = await json<Page>(`/api/v1/orgs/acme/network-logs?sessionId=${S3.session_id}`);
    const [item] = body.items;
    expect(Object.keys(item ?? {})).toEqual(ITEM_FIELDS);
    expect(item).toMatchObject({
      org_id: 'acme',
      session_id: S3.session_id,
      source_ip: '2001:db8::10',
      source_addr: '[2001:db8::10]:50000',
      dest_addr: '[2001:db8:1::5]:443',
      started_at: new Date(S3.started_at).toISOString(),
      ended_at: null,
      status: 'ongoing',
      close_reason: '',
      bytes_tx: 5000,
      bytes_rx: 10000,
      version: 2,
    });
    const { body: v4 } = await json<Page>(
      `/api/v1/orgs/acme/network-logs?sessionId=${S1.session_id}`,
    );
    expect(v4.items[0]).toMatchObject({
      source_ip: '10.0.0.1',
      source_addr: '10.0.0.1:40001',
      dest_addr: '10.1.0.5:5432',
      ended_at: new Date(S1.started_at + 1500).toISOString(),
      duration_ms: 1500,
      status: 'completed',
    });
    expect(String(v4.items[0]?.inserted_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it.each([
    ['site=paris', [S4, S2]],
    ['site=paris&site=berlin', ACME_RECENT],
    ['resource=dns', [S2]],
    ['client=desk-4', [S4]],
    ['user=alice', [S3, S1]],
    ['user=alice&user=bob', [S3, S2, S1]],
    ['protocol=udp', [S2]],
    ['protocol=tcp', [S5, S4, S3, S1]],
    ['source=10.0.0.2', [S2]],
    ['source=10.0.0.0/24', [S5, S2, S1]],
    ['source=10.0.0.0/8', [S5, S2, S1]],
    ['source=192.168.0.0/16', [S4]],
    ['source=0.0.0.0/0', [S5, S4, S2, S1]],
    ['source=10.0.0.1:40001', [S5, S1]],
    ['source=10.0.0.1:40002', []],
    ['source=2001:db8::10', [S3]],
    ['source=2001:db8::/32', [S3]],
    ['source=::/0', ACME_RECENT],
    ['source=%5B2001:db8::10%5D:50000', [S3]],
    ['source=%5B2001:db8::10%5D:50001', []],
    ['source=::ffff:10.0.0.2', [S2]],
    ['source=10.0.0.2&source=2001:db8::10', [S3, S2]],
    ['dest=10.1.0.53:53', [S2]],
    ['dest=2001:db8:1::/48', [S3]],
    ['dest=%5B2001:db8:1::5%5D:443', [S3]],
    ['destPort=53', [S2]],
    ['destPort=53&destPort=443', [S3, S2]],
    ['status=ongoing', [S3]],
    ['status=completed', [S5, S4, S2, S1]],
    ['closeReason=dial_failed', [S4]],
    ['closeReason=dial_failed&closeReason=idle_timeout', [S4, S2]],
    ['minBytes=300', [S5, S3, S1]],
    ['minBytes=301', [S3]],
    [`sessionId=${S2.session_id}&sessionId=${S4.session_id}`, [S4, S2]],
    [`from=${new Date(NOW - 2.5 * HOUR).toISOString()}`, [S5, S4]],
    [`to=${Math.floor((NOW - 2.5 * HOUR) / 1000)}`, [S3, S2, S1]],
    [`from=${Math.floor((NOW - 100 * HOUR) / 1000)}`, [...ACME_RECENT, OLD]],
    [
      `from=${new Date(NOW - 100 * HOUR).toISOString()}&to=${new Date(NOW - 48 * HOUR).toISOString()}`,
      [OLD],
    ],
    ['site=paris&protocol=tcp', [S4]],
    ['user=alice&status=completed&destPort=5432', [S1]],
    ['site=berlin&source=10.0.0.0/8&minBytes=1', [S5, S1]],
    ['user=nobody', []],
  ])('%s', async (query, expected) => {
    expect(await ids(query)).toEqual(idsOf(expected));
  });

  it('keeps orgs apart', async () => {
    expect(await ids('', 'other')).toEqual([OTHER_ORG.session_id]);
    expect(await ids('', 'nobody')).toEqual([]);
  });

  it.each([
    ['from=yesterday', 'INVALID_FILTER', 'from'],
    ['source=10.0.0.0/33', 'INVALID_FILTER', 'source'],
    ['dest=db.internal', 'INVALID_FILTER', 'dest'],
    ['protocol=icmp', 'INVALID_FILTER', 'protocol'],
    ['closeReason=bogus', 'INVALID_FILTER', 'closeReason'],
    ['limit=5000', 'INVALID_PARAMETER', 'limit'],
    ['cursor=garbage', 'INVALID_PARAMETER', 'cursor'],
    ['colour=blue', 'UNKNOWN_PARAMETER', 'colour'],
  ])('%s → 400 %s naming %s', async (query, code, param) => {
    const { status, body } = await json<{
      error: { code: string; param: string; message: string };
    }>(`/api/v1/orgs/acme/network-logs?${query}`);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code, param });
    expect(body.error.message).toContain(param);
  });

  it('refuses a bad org', async () => {
    const { status, body } = await json<{ error: { code: string } }>(
      `/api/v1/orgs/${encodeURIComponent("acme' OR 1=1")}/network-logs`,
    );
    expect(status).toBe(400);
    expect(body.error.code).toBe('INVALID_ORG');
  });

  it('treats injection attempts as plain values', async () => {
    for (const value of [
      "' OR 1=1 --",
      "alice' OR '1'='1",
      '{p0:String}',
      'alice\\',
      "'); DROP TABLE connlog.sessions; --",
    ]) {
      expect(await ids(`user=${encodeURIComponent(value)}`)).toEqual([]);
    }
    const rejected = await get(
      `/api/v1/orgs/acme/network-logs?site=${encodeURIComponent("berlin' OR 1=1")}`,
    );
    expect(rejected.status).toBe(400);
    const still = await store.query<{ n: number }>('SELECT count() AS n FROM connlog.sessions');
    expect(Number(still[0]?.n)).toBeGreaterThan(0);
  });

  it('counts when asked', async () => {
    const { body } = await json<Page>('/api/v1/orgs/acme/network-logs?count=true&limit=2');
    expect(body.items).toHaveLength(2);
    expect(body).toMatchObject({ count: 5, countCapped: false });
  });
});

describe('GET /network-logs/{sessionId}', () => {
  it('returns one session', async () => {
    const { status, body } = await json(`/api/v1/orgs/acme/network-logs/${S2.session_id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      session_id: S2.session_id,
      protocol: 'udp',
      dest_addr: '10.1.0.53:53',
    });
  });

  it('finds sessions outside the default window', async () => {
    expect((await json(`/api/v1/orgs/acme/network-logs/${OLD.session_id}`)).status).toBe(200);
  });

  it('404s an unknown id and another org’s session, 400s a non-UUID', async () => {
    const unknown = await json<{ error: { code: string } }>(
      '/api/v1/orgs/acme/network-logs/0190a8a0-0000-7000-8000-ffffffffffff',
    );
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'SESSION_NOT_FOUND' } } });
    const foreign = await json(`/api/v1/orgs/acme/network-logs/${OTHER_ORG.session_id}`);
    expect(foreign.status).toBe(404);
    const bad = await json<{ error: { code: string } }>(
      '/api/v1/orgs/acme/network-logs/not-a-uuid',
    );
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'INVALID_SESSION_ID' } } });
  });
});

describe('pagination', () => {
  it('neither skips nor repeats while rows are inserted between pages', async () => {
    // 203 sessions, in groups of 7 sharing one started_at, so pages break inside ties.
    const start = NOW - 10 * HOUR;
    const original = Array.from({ length: 203 }, (_, i) =>
      row({ org_id: 'paging', started_at: start + Math.floor(i / 7) * 1000 }),
    );
    await store.insertSessions(original);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `limit=25${cursor ? `&cursor=${cursor}` : ''}`;
      const { body } = await json<Page>(`/api/v1/orgs/paging/network-logs?${query}`);
      seen.push(...body.items.map((i) => String(i.session_id)));
      cursor = body.nextCursor;
      if (cursor) expect(decodeCursor(cursor)).toBeDefined();
      pages += 1;
      // Meanwhile: a newer session, and a new version of a session already seen.
      const inserts = [row({ org_id: 'paging', started_at: NOW - HOUR + pages })];
      const lastSeen = original.find((r) => r.session_id === seen.at(-1));
      if (lastSeen) inserts.push({ ...lastSeen, version: 3, bytes_tx: 999 });
      await store.insertSessions(inserts);
    } while (cursor !== null && pages < 50);

    expect(pages).toBe(Math.ceil(203 / 25));
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(new Set(idsOf(original)));
  });
});

describe('GET /network-logs/export', () => {
  async function exportCsv(query: string): Promise<{ res: Response; text: string }> {
    const res = await get(`/api/v1/orgs/acme/network-logs/export?${query}`);
    return { res, text: await res.text() };
  }

  it('streams CSV with a header row and every matching row', async () => {
    const { res, text } = await exportCsv('site=berlin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="connlog-acme-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.csv"$/,
    );
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(ITEM_FIELDS.join(','));
    expect(lines.at(-1)).toBe('');
    // S5's dest_host has a newline inside quotes: count records, not lines.
    expect(text.match(/\r\nacme,/g)).toHaveLength(3);
    expect(text).toContain(
      `acme,berlin,agent-1,db,${S1.session_id},tcp,laptop-1,alice,10.0.0.1,40001,10.1.0.5,5432,db.internal,`,
    );
    expect(text).toContain(',10.0.0.1:40001,10.1.0.5:5432\r\n');
  });

  it('neutralizes formulas and quotes per RFC 4180', async () => {
    const { text } = await exportCsv(`sessionId=${S5.session_id}`);
    expect(text).toContain(`,"x,""y""",'=cmd|' /C calc'!A0,`);
    expect(text).toContain(',"multi\nline",');
  });

  it('uses the same filters and their errors', async () => {
    const { text } = await exportCsv('protocol=udp');
    expect(text.trim().split('\r\n')).toHaveLength(2);
    const bad = await get('/api/v1/orgs/acme/network-logs/export?limit=10');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      'UNKNOWN_PARAMETER',
    );
  });

  it('exports an empty result as a header row', async () => {
    const { res, text } = await exportCsv('user=nobody');
    expect(res.status).toBe(200);
    expect(text).toBe(`${ITEM_FIELDS.join(',')}\r\n`);
  });

  it('stops the query when the client disconnects', async () => {
    const many = Array.from({ length: 30_000 }, (_, i) =>
      row({ org_id: 'bulk', started_at: NOW - 20 * HOUR + i, error: 'x'.repeat(200) }),
    );
    await store.insertSessions(many);
    const url = new URL(`${base}/api/v1/orgs/bulk/network-logs/export`);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, (res) => {
        res.once('data', () => {
          // Read one chunk, then hang up while the server still has rows to send.
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
    await waitFor(
      () => metrics.render().includes('connlog_collector_exports_total{outcome="aborted"} 1'),
      30_000,
      'the export to be counted as aborted',
    );
    // The store is free again: a new export runs to the end.
    const { text } = await exportCsv('user=bob');
    expect(text.trim().split('\r\n')).toHaveLength(2);
  });
});

describe('/sql', () => {
  async function sql(
    query: string,
    params = '',
  ): Promise<{ status: number; text: string; headers: Headers }> {
    const res = await fetch(`${base}/sql${params ? `?${params}` : ''}`, {
      method: 'POST',
      body: query,
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  const COUNT_ACME = "SELECT count() FROM connlog.network_logs WHERE org_id = 'acme'";

  it('answers in TabSeparated by default', async () => {
    const res = await sql(`${COUNT_ACME} AND started_at > now() - INTERVAL 1 DAY`);
    expect(res).toMatchObject({ status: 200, text: '5\n' });
    expect(res.headers.get('x-clickhouse-format')).toBe('TabSeparated');
    expect(res.headers.get('content-type')).toMatch(/^text\/tab-separated-values/);
    expect(JSON.parse(res.headers.get('x-clickhouse-summary') ?? '')).toHaveProperty('elapsed_ns');
    expect(res.headers.get('x-clickhouse-query-id')).toMatch(/./);
  });

  it('answers in JSONEachRow (default_format) and JSON (FORMAT clause)', async () => {
    const each = await sql(
      "SELECT session_id, user_id FROM connlog.network_logs WHERE org_id = 'acme' AND protocol = 'udp'",
      'default_format=JSONEachRow',
    );
    expect(each.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    expect(JSON.parse(each.text)).toEqual({ session_id: S2.session_id, user_id: 'bob' });

    const whole = await sql(`${COUNT_ACME} FORMAT JSON`, 'default_format=CSV');
    expect(whole.headers.get('x-clickhouse-format')).toBe('JSON');
    expect(whole.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(whole.text) as { data: Record<string, unknown>[]; rows: number };
    expect(body.rows).toBe(1);
    expect(Number(Object.values(body.data[0] ?? {})[0])).toBe(6);
  });

  it('takes the query from GET ?query=, POST body, or both, with param_ values', async () => {
    const byGet = await fetch(`${base}/sql?query=${encodeURIComponent('SELECT 1 + 1')}`);
    expect(await byGet.text()).toBe('2\n');
    const both = await sql('+ 3', `query=${encodeURIComponent('SELECT 1')}`);
    expect(both.text).toBe('4\n');
    const bound = await sql(
      'SELECT count() FROM connlog.network_logs WHERE org_id = {org:String} AND user_id = {user:String}',
      `param_org=acme&param_user=${encodeURIComponent('alice')}`,
    );
    expect(bound.text).toBe('3\n');
    const tables = await sql('SHOW TABLES', 'database=connlog');
    expect(tables.text.split('\n'), tables.text).toContain('network_logs');
  });

  it('answers SHOW, DESCRIBE, EXISTS and EXPLAIN in any format', async () => {
    const describe = await sql('DESCRIBE TABLE connlog.network_logs', 'default_format=JSONEachRow');
    expect(describe.status, describe.text).toBe(200);
    const columns = describe.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { name: string; type: string });
    expect(columns.map((c) => c.name)).toEqual(ITEM_FIELDS);
    expect(columns.find((c) => c.name === 'source_ip')?.type).toBe('IPv6');
    const exists = await sql('EXISTS TABLE connlog.sessions');
    expect(exists.text).toBe('1\n');
    const pretty = await sql('SHOW TABLES FROM connlog FORMAT PrettyCompactMonoBlock');
    expect(pretty.text).toMatch(/network_logs/);
    expect(pretty.headers.get('x-clickhouse-format')).toBe('PrettyCompactMonoBlock');
    const explain = await sql('EXPLAIN SELECT 1');
    expect(explain.status).toBe(200);
    expect(explain.text.length).toBeGreaterThan(0);
    const none = await sql("SHOW TABLES FROM connlog LIKE 'nothing%'");
    expect(none).toMatchObject({ status: 200, text: '' });
  });

  it.each([
    ["INSERT INTO connlog.sessions (org_id) VALUES ('x')", 164],
    ['DROP TABLE connlog.sessions', 164],
    ['SYSTEM STOP MERGES', 164],
    ['TRUNCATE TABLE connlog.sessions', 164],
    ['SELECT 1 SETTINGS readonly = 0', 164],
    ['SELECT 1; DROP TABLE connlog.sessions', 62],
    ["SELECT file('/etc/hostname')", 497],
    ["SELECT 1 INTO OUTFILE '/tmp/connlog-api-outfile.txt'", 497],
    ['WITH 1 AS x INSERT INTO connlog.sessions (org_id) SELECT toString(x)', 164],
  ])('refuses %s with code %i', async (query, code) => {
    const res = await sql(query);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe(String(code));
    expect(res.text).toMatch(new RegExp(`^Code: ${code}\\. DB::Exception: `));
  });

  it('passes engine errors through in ClickHouse form, and the engine refuses writes too', async () => {
    const syntax = await sql('SELECT FROM WHERE');
    expect(syntax.status).toBe(400);
    expect(syntax.headers.get('x-clickhouse-exception-code')).toBe('62');
    const table = await sql('SELECT * FROM connlog.nope');
    expect(table.status).toBe(400);
    expect(table.text).toMatch(/^Code: 60\. DB::Exception: .*nope/);
    // Settings clauses are refused by the read-only engine connection itself.
    const settings = await sql('SELECT 1 SETTINGS max_threads = 1');
    expect(settings.headers.get('x-clickhouse-exception-code')).toBe('164');
    const urlSetting = await sql('SELECT 1', 'readonly=0');
    expect(urlSetting.headers.get('x-clickhouse-exception-code')).toBe('164');
    const unknown = await sql('SELECT 1', 'max_threads=1');
    expect(unknown.headers.get('x-clickhouse-exception-code')).toBe('115');
    // Nothing was changed by any of the refused statements.
    expect((await sql(COUNT_ACME)).text).toBe('6\n');
  });

  it('appends a mid-stream failure to the body and cuts the connection', async () => {
    const res = await fetch(`${base}/sql`, {
      method: 'POST',
      body: "SELECT number, throwIf(number = 300000, 'boom at 300000') FROM system.numbers LIMIT 400000",
    });
    expect(res.status).toBe(200);
    let text = '';
    let cut = false;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
      }
    } catch {
      cut = true;
    }
    expect(text).toMatch(/\nCode: 395\. DB::Exception: .*boom at 300000/);
    // Rows went out before the failure: the status could not change any more.
    expect(text.startsWith('0\t0\n')).toBe(true);
    expect(cut).toBe(true);
  });

  it('works with the ClickHouse client library pointed at /sql', async () => {
    // In the client's `url`, a path means a database; the endpoint path goes in `pathname`.
    const client = createClient({ url: base, pathname: '/sql', request_timeout: 30_000 });
    try {
      expect((await client.ping()).success).toBe(true);
      const result = await client.query({
        query:
          'SELECT user_id, count() AS n FROM connlog.network_logs WHERE org_id = {org:String} GROUP BY user_id ORDER BY user_id',
        query_params: { org: 'acme' },
        format: 'JSONEachRow',
      });
      const rows = await result.json<{ user_id: string; n: number | string }>();
      expect(rows.map((r) => [r.user_id, Number(r.n)])).toContainEqual(['alice', 3]);
      await expect(client.command({ query: 'DROP TABLE connlog.sessions' })).rejects.toMatchObject({
        code: '164',
      });
    } finally {
      await client.close();
    }
  });

  it('connlog-collector sql prints results and fails with the error text', async () => {
    const capture = () => {
      let text = '';
      const stream = new Writable({
        write(chunk: Buffer, _enc, done) {
          text += chunk.toString();
          done();
        },
      });
      return { stream, text: () => text };
    };
    const run = async (args: string[]) => {
      const out = capture();
      const err = capture();
      const program = new Command().exitOverride();
      registerSqlCommand(program, { stdout: out.stream, stderr: err.stream, stdin: process.stdin });
      const before = process.exitCode;
      await program.parseAsync(['sql', '--url', base, ...args], { from: 'user' });
      const exitCode = process.exitCode;
      process.exitCode = before;
      return { out: out.text(), err: err.text(), exitCode };
    };
    const ok = await run([COUNT_ACME, '--format', 'TSV']);
    expect(ok).toEqual({ out: '6\n', err: '', exitCode: undefined });
    const pretty = await run(['SELECT 1 AS one', '--format', 'PrettyCompactMonoBlock']);
    expect(pretty.out).toContain('one');
    const bound = await run(['SELECT {n:UInt8} * 2', '-f', 'TSV', '--param', 'n=21']);
    expect(bound.out).toBe('42\n');
    const refused = await run(['DROP TABLE connlog.sessions']);
    expect(refused.exitCode).toBe(1);
    expect(refused.err).toMatch(/^Code: 164\. DB::Exception: /);
    const unreachable = await run(['SELECT 1', '--url', 'http://127.0.0.1:1']);
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.err).toMatch(/^cannot reach the collector at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('close', () => {
  it('is idempotent', async () => {
    const extra = createApiServer({
      store,
      log,
      metrics: new Registry(),
      config: { http: { listen: '127.0.0.1:0' } },
      health: () => health,
      events: { onRowsStored: () => () => undefined },
    });
    const address = await extra.listen();
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    await Promise.all([extra.close(), extra.close()]);
    await extra.close();
    await expect(fetch(`http://${address}/healthz`)).rejects.toThrow();
  });
});
