import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { sessionsSubject } from '@connlog/proto';
import { startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { createCollector, type Collector } from '../../src/collector.js';
import { batchBytes, sessionEvents } from '../helpers/events.js';
import { startChdbHttpServer, type ChdbHttpServer } from '../helpers/chdb_http.js';
import { drained, runningConfig } from '../helpers/running.js';

/**
 * Server mode end to end: a real collector with `clickhouse.url` set (so the
 * `@clickhouse/client` store) in front of ClickHouse's HTTP interface answered by
 * the real engine (the test-only fixture), fed by a real nats-server. Rows travel
 * NATS → consumer → HTTP INSERT, and come back through the REST API, the CSV export,
 * the read-only SQL endpoint, and a retention change that rewrites stored rows.
 */

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const dir = tempDir('collector-http');
const DAY = 86_400_000;
let fixture: ChdbHttpServer;
let nats: NatsServer;
let client: NatsConnection;
let jsm: JetStreamManager;
let collector: Collector;
let base: string;
let msgSeq = 0;

async function publishSession(org: string, startedAtMs: number): Promise<string> {
  const events = sessionEvents({ orgId: org, siteId: 'hq', startedAtMs });
  msgSeq += 1;
  await jetstream(client).publish(
    sessionsSubject(org, 'hq'),
    batchBytes(events, { orgId: org, siteId: 'hq' }),
    { msgID: `collector-http:${msgSeq}` },
  );
  return events[0]?.sessionId ?? '';
}

async function count(org: string): Promise<number> {
  const rows = await collector.store.query<{ n: number }>(
    'SELECT count() AS n FROM network_logs WHERE org_id = {org:String}',
    { org },
  );
  return rows[0]?.n ?? -1;
}

beforeAll(async () => {
  fixture = await startChdbHttpServer(dir.path);
  nats = await startNatsServer();
  client = await connect({ servers: nats.url });
  const config = runningConfig(dir.path, nats.url, {
    clickhouse: { url: fixture.url },
    retention: { defaultDays: 30, enforceInterval: 0 },
  });
  collector = createCollector(config, { log });
  await collector.start();
  base = `http://${collector.httpAddress()}`;
  jsm = await jetstreamManager(client);
});

afterAll(async () => {
  await collector.close();
  await client.close();
  await nats.remove();
  await fixture.close();
  dir.remove();
});

describe('collector in server mode (clickhouse.url)', () => {
  it('stores a published session through the HTTP store, one row per session', async () => {
    expect(collector.status()).toMatchObject({ ok: true, store: 'http' });
    const sessionId = await publishSession('server', Date.now() - 60_000);
    await drained(jsm);
    const rows = await waitFor(
      async () => {
        const found = await collector.store.query(
          `SELECT session_id, bytes_tx, bytes_rx, status, close_reason, version
           FROM network_logs WHERE org_id = 'server'`,
        );
        return found[0]?.version === 3 ? found : undefined;
      },
      20_000,
      'the END version in network_logs',
    );
    expect(rows).toEqual([
      {
        session_id: sessionId,
        bytes_tx: 100,
        bytes_rx: 2000,
        status: 'completed',
        close_reason: 'client_closed',
        version: 3,
      },
    ]);
    // The rows went in as HTTP INSERTs carrying the batch's dedup token.
    const inserts = fixture.requests.filter((r) =>
      r.statement.startsWith('INSERT INTO connlog.sessions'),
    );
    expect(inserts.length).toBeGreaterThan(0);
    for (const insert of inserts) expect(insert.settings.insert_deduplication_token).toBeTruthy();
  });

  it('serves the stored rows through the REST API, the CSV export and /sql', async () => {
    const list = await fetch(`${base}/api/v1/orgs/server/network-logs`);
    expect(list.status).toBe(200);
    const body = (await list.json()) as { items: { bytes_rx: number }[] };
    expect(body.items.map((item) => item.bytes_rx)).toEqual([2000]);

    const csv = await fetch(`${base}/api/v1/orgs/server/network-logs/export`);
    expect(csv.status).toBe(200);
    const lines = (await csv.text()).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('client_closed');

    const sql = await fetch(`${base}/sql?default_format=CSV`, {
      method: 'POST',
      body: "SELECT count() FROM network_logs WHERE org_id = 'server'",
    });
    expect(sql.status).toBe(200);
    expect(await sql.text()).toBe('1\n');
    const write = await fetch(`${base}/sql`, {
      method: 'POST',
      body: "INSERT INTO sessions (org_id) VALUES ('evil')",
    });
    expect(write.status).toBe(400);
    expect(write.headers.get('x-clickhouse-exception-code')).toBe('164');
  });

  it('applies a shorter retention to stored rows (mutations on the server)', async () => {
    const now = Date.now();
    await publishSession('shorten', now - 20 * DAY);
    await publishSession('shorten', now - DAY);
    await drained(jsm);
    await waitFor(async () => (await count('shorten')) === 2, 20_000, 'two shorten sessions');
    const response = await fetch(`${base}/api/v1/orgs/shorten/retention`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ days: 7 }),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as Record<string, unknown>;
    expect(answer.existingRows).toMatchObject({ state: 'restamped', storedDays: 7 });
    expect(await count('shorten')).toBe(1);
    const stamps = await collector.store.query<{ d: number }>(
      "SELECT DISTINCT retention_days AS d FROM sessions WHERE org_id = 'shorten'",
    );
    expect(stamps).toEqual([{ d: 7 }]);
    expect(await collector.enforceRetention()).toBe(0);
  });
});
