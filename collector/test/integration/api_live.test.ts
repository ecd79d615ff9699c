import { Registry } from '@connlog/metrics';
import { tempDir, waitFor } from '@connlog/testkit';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFilters } from '../../src/api/filters/parse.js';
import { sessionRowToItem } from '../../src/api/live/item.js';
import { matchesFilters } from '../../src/api/live/match.js';
import { createApiServer } from '../../src/api/server.js';
import type { ApiServer } from '../../src/api/server.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { SessionRow, Store } from '../../src/store/store.js';
import { isRefused, openLive, rowsStoredHook } from '../helpers/live.js';
import type { LiveClient } from '../helpers/live.js';
import { sessionRow } from '../helpers/rows.js';

/**
 * The live tail over a real HTTP server and real WebSocket clients, and the JS
 * filters checked against the SQL filters on the same rows in the real embedded
 * ClickHouse.
 */

const log = pino({ level: 'silent' });
const dir = tempDir('api-live');
const metrics = new Registry();
const hook = rowsStoredHook();
const HOUR = 3_600_000;
const NOW = Date.UTC(2031, 5, 1, 12);
let store: Store;
let server: ApiServer;
let base: string;

/** Deterministic variety: a tiny LCG so the row set is the same on every run. */
function generator(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}

// Addresses on both sides of CIDR edges, IPv4 (mapped) and IPv6, so the range
// comparison of the SQL and of the JS must agree where it matters.
const SOURCES = [
  '::ffff:10.0.0.0',
  '::ffff:10.1.2.3',
  '::ffff:10.255.255.255',
  '::ffff:11.0.0.0',
  '::ffff:9.255.255.255',
  '::ffff:192.168.1.7',
  '2001:db8::10',
  '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
  '2001:db9::',
  'fe80::1',
  '::1',
];
const DESTS = ['::ffff:10.1.0.5', '::ffff:192.168.0.1', '2001:db8:1::5', '2001:db8:2::5'];

function variedRows(count: number): SessionRow[] {
  const pick = generator(7);
  const rows: SessionRow[] = [];
  for (let i = 0; i < count; i += 1) {
    const ended = pick(3) !== 0;
    const startedAt = NOW - (1 + pick(60)) * HOUR;
    rows.push(
      sessionRow({
        org_id: pick(10) === 0 ? 'other' : 'acme',
        site_id: ['berlin', 'paris', 'tokyo'][pick(3)] ?? 'berlin',
        resource_id: ['db', 'web', 'dns'][pick(3)] ?? 'db',
        client_id: ['c1', 'c2', ''][pick(3)] ?? '',
        user_id: ['alice', 'bob', ''][pick(3)] ?? '',
        protocol: pick(2) === 0 ? 'tcp' : 'udp',
        source_ip: SOURCES[pick(SOURCES.length)] ?? '::1',
        source_port: 40000 + pick(3),
        dest_ip: DESTS[pick(DESTS.length)] ?? '::1',
        dest_port: [443, 53, 5432][pick(3)] ?? 443,
        started_at: startedAt,
        ended_at: ended ? startedAt + 1000 : null,
        duration_ms: ended ? 1000 : 0,
        close_reason: ended ? (['client_closed', 'reset', 'dial_failed'][pick(3)] ?? '') : '',
        bytes_tx: pick(1000),
        bytes_rx: pick(1000),
        status: ended ? 'completed' : 'ongoing',
        version: 1 + pick(3),
      }),
    );
  }
  return rows;
}

const ROWS = variedRows(150);

beforeAll(async () => {
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  await store.insertSessions(ROWS);
  server = createApiServer({
    store,
    log,
    metrics,
    config: { http: { listen: '127.0.0.1:0' } },
    health: () => ({ ok: true }),
    events: hook.events,
    now: () => NOW,
    live: {
      maxClients: 4,
      maxBufferedMessages: 50,
      maxBufferedBytes: 64 * 1024,
      slowCloseGraceMs: 60_000,
    },
  });
  base = `http://${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
  await store.close();
  dir.remove();
});

function metric(name: string): number {
  const line = metrics
    .render()
    .split('\n')
    .find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

async function live(path: string): Promise<LiveClient> {
  const client = await openLive(base, path);
  if (isRefused(client)) throw new Error(`refused: ${JSON.stringify(client.body)}`);
  return client;
}

async function closeAll(clients: LiveClient[]): Promise<void> {
  for (const client of clients) client.ws.close();
  await Promise.all(clients.map((c) => c.closed));
  await waitFor(() => metric('connlog_collector_live_clients') === 0, 5000, 'no live clients');
}

describe('JS filters agree with the SQL filters', () => {
  const hex = ROWS[3]?.session_id.toUpperCase() ?? '';
  const cases = [
    '',
    'site=paris',
    'site=berlin&protocol=udp',
    'user=alice&user=bob',
    'client=c1&resource=web&resource=dns',
    'status=ongoing',
    'status=completed&closeReason=reset',
    'closeReason=dial_failed&closeReason=client_closed&protocol=tcp',
    'destPort=443',
    'destPort=53&destPort=5432&site=tokyo',
    'minBytes=1000',
    'minBytes=0',
    'minBytes=1999',
    'source=10.0.0.0/8',
    'source=10.1.2.3',
    'source=10.1.2.3:40001',
    'source=::ffff:10.0.0.0/104',
    'source=2001:db8::/32',
    'source=::/0',
    'source=0.0.0.0/0',
    'source=fe80::/10&source=::1',
    'source=10.0.0.0/31&source=11.0.0.0/32',
    'dest=192.168.0.0/16&dest=2001:db8:1::/48',
    'dest=[2001:db8:1::5]:443',
    'dest=10.1.0.5:5432&user=alice',
    `from=${(NOW - 48 * HOUR) / 1000}&to=${(NOW - 12 * HOUR) / 1000}`,
    `from=${(NOW - 70 * HOUR) / 1000}&site=berlin`,
    `sessionId=${hex}&from=${(NOW - 70 * HOUR) / 1000}`,
  ];

  it.each(cases)('%s', async (query) => {
    const res = await fetch(`${base}/api/v1/orgs/acme/network-logs?${query}&limit=1000`);
    const body = (await res.json()) as { items: { session_id: string }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    const sql = body.items.map((item) => item.session_id).sort();
    const filters = parseFilters(new URLSearchParams(query), NOW);
    const js = ROWS.filter((row) => row.org_id === 'acme' && matchesFilters(row, filters))
      .map((row) => row.session_id)
      .sort();
    expect(js).toEqual(sql);
  });

  it('sends the same item shape as the list route', async () => {
    const res = await fetch(
      `${base}/api/v1/orgs/acme/network-logs?from=${(NOW - 70 * HOUR) / 1000}&limit=1000`,
    );
    const { items } = (await res.json()) as { items: Record<string, unknown>[] };
    expect(items.length).toBeGreaterThan(100);
    for (const item of items) {
      const row = ROWS.find((r) => r.session_id === item.session_id);
      expect(row).toBeDefined();
      if (!row) continue;
      const ours = sessionRowToItem(row, 0);
      expect({ ...ours, inserted_at: null }).toEqual({ ...item, inserted_at: null });
    }
  });
});

describe('live tail', () => {
  it('sends a hello, then each newly stored matching session within a second', async () => {
    const all = await live('/api/v1/orgs/acme/network-logs/live');
    const alice = await live('/api/v1/orgs/acme/network-logs/live?user=alice&protocol=tcp');
    const other = await live('/api/v1/orgs/other/network-logs/live');
    expect(alice.messages[0]).toEqual({
      type: 'hello',
      org: 'acme',
      filters: { user: ['alice'], protocol: ['tcp'] },
      limits: { maxBufferedMessages: 50, maxBufferedBytes: 65536, heartbeatMs: 30000 },
    });
    const a = sessionRow({ user_id: 'alice', protocol: 'tcp', started_at: NOW });
    const b = sessionRow({ user_id: 'bob', protocol: 'tcp', started_at: NOW });
    const sent = metric('connlog_collector_live_messages_total');
    hook.emit([a, b]);
    await waitFor(() => alice.sessions().includes(a.session_id), 1000, 'alice session');
    await waitFor(() => all.sessions().length === 2, 1000, 'both sessions');
    expect(all.sessions()).toEqual([a.session_id, b.session_id]);
    const message = all.messages.find((m) => m.data?.session_id === a.session_id);
    expect(message?.data).toMatchObject({ org_id: 'acme', user_id: 'alice', status: 'ongoing' });
    // A later version of the same session arrives as a message of its own.
    const ended = { ...a, version: 3, ended_at: NOW + 5000, close_reason: 'client_closed' };
    hook.emit([ended]);
    await waitFor(() => alice.sessions().length === 2, 1000, 'the end of the session');
    expect(alice.messages.at(-1)?.data).toMatchObject({ status: 'completed', version: 3 });
    expect(alice.sessions()).not.toContain(b.session_id);
    expect(other.sessions()).toEqual([]);
    expect(metric('connlog_collector_live_messages_total') - sent).toBe(5);
    await closeAll([all, alice, other]);
    expect(metric('connlog_collector_live_disconnects_total{reason="client"}')).toBe(3);
    // Nobody tails: the collector no longer calls into the live tail per insert.
    await waitFor(() => hook.listeners === 0, 2000, 'listener removed');
  });

  it('drops a stalled client with 1013 while another keeps receiving', async () => {
    const stalled = await live('/api/v1/orgs/acme/network-logs/live?user=bulk');
    const healthy = await live('/api/v1/orgs/acme/network-logs/live?user=marker');
    stalled.ws.pause();
    // ~2.5 KB per message: loopback buffers fill after a few MB, then the backlog bound trips.
    const bulk = (): SessionRow[] =>
      Array.from({ length: 200 }, () =>
        sessionRow({ user_id: 'bulk', started_at: NOW, dest_host: 'h'.repeat(2400) }),
      );
    const dropped = (): number =>
      metric('connlog_collector_live_disconnects_total{reason="slow_consumer"}');
    // Bounded: 200 batches are ~100 MB, far beyond any loopback buffer.
    for (let i = 0; i < 200 && dropped() === 0; i += 1) {
      hook.emit(bulk());
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(dropped()).toBe(1);
    // The healthy client got every bulk-free row and is not the one dropped.
    expect(healthy.sessions()).toEqual([]);
    // Emitting more costs the dropped client nothing and the healthy one still gets its rows.
    hook.emit(bulk());
    const marker = sessionRow({ user_id: 'marker', started_at: NOW });
    hook.emit([marker]);
    await waitFor(() => healthy.sessions().includes(marker.session_id), 5000, 'marker row');
    // Once it reads again, the stalled client finds the close frame behind its backlog.
    stalled.ws.resume();
    expect(await stalled.closed).toEqual({ code: 1013, reason: 'slow consumer' });
    await closeAll([healthy]);
  });

  it('refuses bad filters, a time window, plain GETs and clients beyond the limit', async () => {
    const bad = await openLive(base, '/api/v1/orgs/acme/network-logs/live?protocol=icmp');
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'INVALID_FILTER' } } });
    const window = await openLive(base, '/api/v1/orgs/acme/network-logs/live?from=1714564800');
    expect(window).toMatchObject({
      status: 400,
      body: { error: { code: 'UNKNOWN_PARAMETER', param: 'from' } },
    });
    const org = await openLive(base, '/api/v1/orgs/a%20b/network-logs/live');
    expect(org).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ORG' } } });
    const elsewhere = await openLive(base, '/api/v1/orgs/acme/network-logs');
    expect(elsewhere).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    const plain = await fetch(`${base}/api/v1/orgs/acme/network-logs/live`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: { code: 'UPGRADE_REQUIRED' } });

    const clients = [];
    for (let i = 0; i < 4; i += 1) clients.push(await live('/api/v1/orgs/acme/network-logs/live'));
    const full = await openLive(base, '/api/v1/orgs/acme/network-logs/live');
    expect(full).toMatchObject({
      status: 503,
      body: { error: { code: 'TOO_MANY_LIVE_CLIENTS' } },
      headers: { 'retry-after': '5' },
    });
    expect(metric('connlog_collector_live_refused_total')).toBe(1);
    await closeAll(clients);
    const again = await live('/api/v1/orgs/acme/network-logs/live');
    await closeAll([again]);
  });

  it('cuts a client that stops answering pings', async () => {
    const registry = new Registry();
    const beating = createApiServer({
      store,
      log,
      metrics: registry,
      config: { http: { listen: '127.0.0.1:0' } },
      health: () => ({ ok: true }),
      events: hook.events,
      live: { heartbeatMs: 50 },
    });
    const address = `http://${await beating.listen()}`;
    const answering = await openLive(address, '/api/v1/orgs/acme/network-logs/live');
    const silent = new WebSocket(
      `${address.replace('http', 'ws')}/api/v1/orgs/acme/network-logs/live`,
      { autoPong: false },
    );
    const silentClosed = new Promise<number>((resolve) => silent.on('close', resolve));
    expect(await silentClosed).toBe(1006);
    expect(registry.render()).toContain(
      'connlog_collector_live_disconnects_total{reason="heartbeat"} 1',
    );
    // The client that answers its pings is still there.
    if (isRefused(answering)) throw new Error('refused');
    const row = sessionRow({ started_at: NOW });
    hook.emit([row]);
    await waitFor(() => answering.sessions().includes(row.session_id), 5000, 'still tailing');
    await beating.close();
  });

  it('closes clients with 1001 when the server shuts down', async () => {
    const second = createApiServer({
      store,
      log,
      metrics: new Registry(),
      config: { http: { listen: '127.0.0.1:0' } },
      health: () => ({ ok: true }),
      events: hook.events,
    });
    const address = `http://${await second.listen()}`;
    const client = await openLive(address, '/api/v1/orgs/acme/network-logs/live');
    if (isRefused(client)) throw new Error('refused');
    await second.close();
    expect(await client.closed).toEqual({ code: 1001, reason: 'collector shutting down' });
  });
});
