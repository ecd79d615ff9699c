import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@connlog/metrics';
import { startNatsServer, tempDir, waitFor } from '@connlog/testkit';
import type { NatsServer } from '@connlog/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminLog } from '../../src/admin/index.js';
import type { AdminActionEntry, AdminLog } from '../../src/admin/index.js';
import { createApiServer } from '../../src/api/server.js';
import type { ApiServer } from '../../src/api/server.js';
import { createApiKeys } from '../../src/auth/index.js';
import type { ApiKeys, Role } from '../../src/auth/index.js';
import { createRetentionSettings, createTtlEnforcer } from '../../src/retention/index.js';
import type { RetentionSettings, TtlEnforcer } from '../../src/retention/index.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { Store } from '../../src/store/store.js';
import { isRefused, openLive, rowsStoredHook } from '../helpers/live.js';
import { sessionRow } from '../helpers/rows.js';

/**
 * API keys enforced over real HTTP: keys in a real nats-server's KV, the store in the
 * real embedded ClickHouse, the admin log and retention settings wired as the
 * collector wires them.
 */

const log = pino({ level: 'silent' });
const dir = tempDir('api-auth');
const hook = rowsStoredHook();
const NOW = Date.now();
let nats: NatsServer;
let nc: NatsConnection;
let store: Store;
let keys: ApiKeys;
let adminLog: AdminLog;
let settings: RetentionSettings;
let ttl: TtlEnforcer;
let server: ApiServer;
let base: string;

interface TestKey {
  role: Role;
  org: string;
  key: string;
  id: string;
}
const K: Record<string, TestKey> = {};
let revokedKey = '';

const ROW = sessionRow({ org_id: 'acme', started_at: NOW - 3_600_000, user_id: 'alice' });

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  await store.insertSessions([ROW, sessionRow({ org_id: 'other', started_at: NOW - 60_000 })]);
  keys = await createApiKeys({ nc, log });
  adminLog = createAdminLog({ store, log, flushIntervalMs: 20 });
  settings = await createRetentionSettings({ nc, defaultDays: 30, log });
  ttl = createTtlEnforcer({ store, log, intervalMs: 0, mutationPollMs: 20 });
  for (const [name, role, org] of [
    ['adminAll', 'admin', '*'],
    ['adminAcme', 'admin', 'acme'],
    ['auditorAll', 'auditor', '*'],
    ['auditorAcme', 'auditor', 'acme'],
  ] as const) {
    const created = await keys.create({ role, org, name });
    K[name] = { role, org, key: created.key, id: created.id };
  }
  const revoked = await keys.create({ role: 'admin', org: '*', name: 'gone' });
  await keys.revoke(revoked.id);
  revokedKey = revoked.key;
  server = createApiServer({
    store,
    log,
    metrics: new Registry(),
    config: { http: { listen: '127.0.0.1:0' } },
    health: () => ({ ok: true }),
    events: hook.events,
    keys,
    metricsAuth: true,
    adminLog,
    retention: { settings, ttl },
  });
  base = `http://${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
  await ttl.close();
  await settings.close();
  await adminLog.close();
  await keys.close();
  await nc.close();
  await store.close();
  await nats.remove();
  dir.remove();
});

function key(name: string): TestKey {
  const found = K[name];
  if (!found) throw new Error(`no key ${name}`);
  return found;
}

const bearer = (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` });

interface Case {
  name: string;
  method: 'GET' | 'PUT' | 'POST';
  path: (org: string) => string;
  action: 'read' | 'export' | 'admin';
  body?: string;
}

const CASES: Case[] = [
  { name: 'list', method: 'GET', path: (o) => `/api/v1/orgs/${o}/network-logs`, action: 'read' },
  {
    name: 'get',
    method: 'GET',
    path: (o) => `/api/v1/orgs/${o}/network-logs/${ROW.session_id}`,
    action: 'read',
  },
  {
    name: 'export',
    method: 'GET',
    path: (o) => `/api/v1/orgs/${o}/network-logs/export`,
    action: 'export',
  },
  {
    name: 'admin-actions',
    method: 'GET',
    path: (o) => `/api/v1/orgs/${o}/admin-actions`,
    action: 'read',
  },
  {
    name: 'admin-actions export',
    method: 'GET',
    path: (o) => `/api/v1/orgs/${o}/admin-actions/export`,
    action: 'export',
  },
  { name: 'retention', method: 'GET', path: (o) => `/api/v1/orgs/${o}/retention`, action: 'admin' },
  {
    name: 'retention put',
    method: 'PUT',
    path: (o) => `/api/v1/orgs/${o}/retention`,
    action: 'admin',
    body: '{"days": 30}',
  },
];

async function call(c: Case, org: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${base}${c.path(org)}`, {
    method: c.method,
    headers: { ...headers, ...(c.body ? { 'content-type': 'application/json' } : {}) },
    ...(c.body ? { body: c.body } : {}),
  });
}

function allowed(k: TestKey, org: string, action: Case['action']): boolean {
  const inScope = k.org === '*' || k.org === org;
  return inScope && (k.role === 'admin' || action !== 'admin');
}

describe('REST routes: roles × orgs', () => {
  const keyNames = ['adminAll', 'adminAcme', 'auditorAll', 'auditorAcme'];
  const rows = CASES.flatMap((c) =>
    keyNames.flatMap((k) => ['acme', 'other'].map((org) => [c.name, k, org] as const)),
  );

  it.each(rows)('%s as %s on %s', async (caseName, keyName, org) => {
    const c = CASES.find((x) => x.name === caseName);
    if (!c) throw new Error(caseName);
    const k = key(keyName);
    const res = await call(c, org, bearer(k.key));
    const text = await res.text();
    if (allowed(k, org, c.action)) {
      expect([200, 404], text).toContain(res.status);
    } else {
      expect(res.status, text).toBe(403);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('FORBIDDEN');
      expect(body.error.message).toContain(k.id);
    }
  });

  it.each(CASES.map((c) => [c.name]))('%s without a key, or with a bad one, is 401', async (n) => {
    const c = CASES.find((x) => x.name === n);
    if (!c) throw new Error(n);
    for (const headers of [
      {},
      bearer('nope'),
      bearer(revokedKey),
      bearer(`${key('adminAll').key.slice(0, -4)}AAAA`),
      { authorization: 'Token abc' },
    ]) {
      const res = await call(c, 'acme', headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="connlog"');
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('UNAUTHORIZED');
      expect(body.error.message).not.toContain(key('adminAll').key.slice(21));
    }
  });

  it('reads every org with * only with a key for all orgs', async () => {
    const c = CASES[3];
    if (!c) throw new Error('case');
    expect((await call(c, '*', bearer(key('auditorAll').key))).status).toBe(200);
    expect((await call(c, '*', bearer(key('adminAcme').key))).status).toBe(403);
  });

  it('keeps /healthz, /sql/ping and the OpenAPI document open; /metrics needs a key here', async () => {
    for (const path of ['/healthz', '/sql/ping', '/api/v1/openapi.json']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(200);
    }
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${base}/metrics`, { headers: bearer(key('auditorAcme').key) });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('connlog_collector_http_requests_total');
  });
});

describe('live tail with keys', () => {
  it('needs a key allowed to read the org', async () => {
    const path = '/api/v1/orgs/acme/network-logs/live';
    const none = await openLive(base, path);
    expect(none).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED' } },
      headers: { 'www-authenticate': 'Bearer realm="connlog"' },
    });
    const elsewhere = await openLive(
      base,
      '/api/v1/orgs/other/network-logs/live',
      bearer(key('auditorAcme').key),
    );
    expect(elsewhere).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    const client = await openLive(base, path, bearer(key('auditorAcme').key));
    if (isRefused(client)) throw new Error(JSON.stringify(client.body));
    const row = sessionRow({ org_id: 'acme', started_at: NOW });
    hook.emit([row]);
    await waitFor(() => client.sessions().includes(row.session_id), 5000, 'row');
    client.ws.close();
    await client.closed;
  });
});

describe('/sql with keys', () => {
  const query = encodeURIComponent('SELECT count() FROM connlog.network_logs');
  const sql = (headers: Record<string, string>) => fetch(`${base}/sql?query=${query}`, { headers });
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });

  it('answers ClickHouse-style 401s and 403s', async () => {
    const none = await sql({});
    expect(none.status).toBe(401);
    expect(none.headers.get('x-clickhouse-exception-code')).toBe('194');
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="connlog"');
    expect(await none.text()).toMatch(/^Code: 194\. DB::Exception: .*\(REQUIRED_PASSWORD\)\n$/);
    const bad = await sql(basic('default', revokedKey));
    expect(bad.status).toBe(401);
    expect(await bad.text()).toMatch(/^Code: 516\. .*\(AUTHENTICATION_FAILED\)\n$/);
    const scoped = await sql(basic('default', key('adminAcme').key));
    expect(scoped.status).toBe(403);
    expect(await scoped.text()).toMatch(/^Code: 497\. .*limited to org acme.*\(ACCESS_DENIED\)\n$/);
  });

  it('runs for keys scoped to all orgs, by basic auth, X-ClickHouse-Key or Bearer', async () => {
    for (const headers of [
      basic('default', key('auditorAll').key),
      basic(key('adminAll').key, ''),
      { 'x-clickhouse-user': 'x', 'x-clickhouse-key': key('auditorAll').key },
      bearer(key('adminAll').key),
    ]) {
      const res = await sql(headers);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('2\n');
    }
  });
});

async function actions(query: string, k = key('adminAll')): Promise<AdminActionEntry[]> {
  const res = await fetch(`${base}/api/v1/orgs/${query}`, { headers: bearer(k.key) });
  const body = (await res.json()) as { items: AdminActionEntry[] };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.items;
}

describe('retention and the admin action log', () => {
  const put = (org: string, body: string, k: TestKey, type = 'application/json') =>
    fetch(`${base}/api/v1/orgs/${org}/retention`, {
      method: 'PUT',
      headers: { ...bearer(k.key), 'content-type': type },
      body,
    });

  it('sets an org retention, applies it to stored rows and records it', async () => {
    const res = await put('acme', '{"days": 90}', key('adminAcme'));
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({
      org: 'acme',
      days: 90,
      source: 'org',
      defaultDays: 30,
      updatedBy: `api_key:${key('adminAcme').id}`,
      existingRows: { state: 'restamped', storedDays: 90 },
    });
    const [stamped] = await store.query<{ d: number }>(
      `SELECT max(retention_days) AS d FROM connlog.sessions WHERE org_id = 'acme'`,
    );
    expect(stamped?.d).toBe(90);
    const got = await fetch(`${base}/api/v1/orgs/acme/retention`, {
      headers: bearer(key('adminAll').key),
    });
    expect(await got.json()).toMatchObject({ days: 90, source: 'org' });
    const fresh = await fetch(`${base}/api/v1/orgs/never-set/retention`, {
      headers: bearer(key('adminAll').key),
    });
    expect(await fresh.json()).toEqual({
      org: 'never-set',
      days: 30,
      source: 'default',
      defaultDays: 30,
      updatedAt: null,
      updatedBy: null,
    });
    const recorded = await waitFor(
      async () =>
        (await actions('acme/admin-actions?action=retention.update&outcome=success')).find(
          (a) => a.metadata.days === 90,
        ),
      5000,
      'retention.update recorded',
    );
    expect(recorded).toMatchObject({
      orgId: 'acme',
      actorType: 'api_key',
      actor: 'adminAcme',
      actorId: key('adminAcme').id,
      metadata: { days: 90, previousDays: 30, existingRows: 'restamped' },
    });
  });

  it('refuses bad bodies with 400 naming the field', async () => {
    const cases: [string, string, string | undefined][] = [
      ['{"days": 5000}', 'application/json', 'days'],
      ['{"days": "30"}', 'application/json', 'days'],
      ['{"days": 1.5}', 'application/json', 'days'],
      ['{}', 'application/json', 'days'],
      ['{"days": 30, "keep": true}', 'application/json', 'keep'],
      ['days=30', 'application/x-www-form-urlencoded', undefined],
      ['{"days":', 'application/json', undefined],
    ];
    for (const [body, type, param] of cases) {
      const res = await put('acme', body, key('adminAll'), type);
      const json = (await res.json()) as { error: { code: string; param?: string } };
      expect(res.status, body).toBe(400);
      expect(json.error.code).toBe('INVALID_BODY');
      expect(json.error.param).toBe(param);
    }
    expect(settings.get('acme')).toBe(90);
  });

  it('records exports, SQL statements and denied attempts', async () => {
    const exported = await fetch(`${base}/api/v1/orgs/acme/network-logs/export?user=alice`, {
      headers: bearer(key('auditorAcme').key),
    });
    expect(exported.status).toBe(200);
    expect((await exported.text()).split('\r\n').length).toBe(3);
    const denied = await fetch(`${base}/api/v1/orgs/other/network-logs/export`, {
      headers: bearer(key('auditorAcme').key),
    });
    expect(denied.status).toBe(403);
    expect((await put('acme', '{"days": 1}', key('auditorAll'))).status).toBe(403);
    const sql = await fetch(`${base}/sql`, {
      method: 'POST',
      headers: bearer(key('auditorAll').key),
      body: 'SELECT 42 AS answer',
    });
    expect(await sql.text()).toBe('42\n');
    await fetch(`${base}/sql`, {
      method: 'POST',
      headers: bearer(key('auditorAll').key),
      body: 'DROP TABLE x',
    });

    const filtered = await waitFor(
      async () =>
        (await actions('acme/admin-actions?action=logs.export', key('auditorAcme'))).find(
          (a) => JSON.stringify(a.metadata.filters) === '{"user":["alice"]}',
        ),
      5000,
      'export recorded',
    );
    expect(filtered).toMatchObject({
      action: 'logs.export',
      outcome: 'success',
      actorId: key('auditorAcme').id,
      metadata: { filters: { user: ['alice'] }, rows: 1, aborted: false },
    });
    // The matrix above was refused many times too; these three are this test's.
    const expected = [
      `acme retention.update ${key('auditorAll').id}`,
      `other logs.export ${key('auditorAcme').id}`,
      // DROP TABLE, refused by the read-only check.
      ` sql.query ${key('auditorAll').id}`,
    ];
    await waitFor(
      async () => {
        const seen = (await actions('*/admin-actions?outcome=denied&limit=1000')).map(
          (a) => `${a.orgId} ${a.action} ${a.actorId}`,
        );
        return expected.every((e) => seen.includes(e));
      },
      5000,
      'denied attempts recorded',
    );
    const statements = await actions('*/admin-actions?action=sql.query&outcome=success');
    expect(statements.map((a) => a.metadata.query)).toContain('SELECT 42 AS answer');
    // An org key reads its own org's log, not the log of every org.
    const own = await fetch(`${base}/api/v1/orgs/*/admin-actions`, {
      headers: bearer(key('auditorAcme').key),
    });
    expect(own.status).toBe(403);
    const csv = await fetch(`${base}/api/v1/orgs/acme/admin-actions/export?action=logs.export`, {
      headers: bearer(key('auditorAcme').key),
    });
    const text = await csv.text();
    expect(text.split('\r\n')[0]).toBe(
      'timestamp,org_id,action,actor_type,actor,actor_id,outcome,metadata',
    );
    expect(text).toContain(`,logs.export,api_key,auditorAcme,${key('auditorAcme').id},success,`);
  });

  it('validates admin-actions filters, naming the parameter', async () => {
    for (const [query, param] of [
      ['action=nope', 'action'],
      ['outcome=maybe', 'outcome'],
      ['from=yesterday', 'from'],
      ['limit=0', 'limit'],
      ['cursor=zzz', 'cursor'],
      ['destPort=1', 'destPort'],
    ]) {
      const res = await fetch(`${base}/api/v1/orgs/acme/admin-actions?${query}`, {
        headers: bearer(key('adminAll').key),
      });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    }
  });
});
