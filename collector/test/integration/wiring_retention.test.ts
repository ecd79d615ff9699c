import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { sessionsSubject, type SessionEventInput } from '@connlog/proto';
import { startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { createCollector, type Collector } from '../../src/collector.js';
import type { CollectorConfig } from '../../src/config.js';
import { createRetentionSettings } from '../../src/retention/index.js';
import type { SessionRow } from '../../src/store/store.js';
import { drained, runningConfig } from '../helpers/running.js';
import { batchBytes, sessionEvents } from '../helpers/events.js';

/**
 * Retention wired into a running collector, on a real nats-server and the real
 * embedded ClickHouse: batches with old timestamps go through NATS, the collector
 * stamps them with the org's retention from KV, and the TTL enforcement pass
 * (`enforceRetention`, what `retention.enforceInterval` schedules) removes what is
 * past it.
 */

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const DAY = 86_400_000;
const dir = tempDir('wiring-retention');
let nats: NatsServer;
let client: NatsConnection;
let jsm: JetStreamManager;
let config: CollectorConfig;
let collector: Collector;
let base: string;
let msgSeq = 0;
const storedIds = new Set<string>();

/** Publish whole sessions (START, UPDATE, END) of `org` started `daysAgo` days ago; returns their ids. */
async function publishSessions(org: string, daysAgo: number[]): Promise<string[]> {
  const ids: string[] = [];
  const events: SessionEventInput[] = [];
  for (const days of daysAgo) {
    const session = sessionEvents({
      orgId: org,
      siteId: 'berlin',
      startedAtMs: Date.now() - days * DAY - 60_000,
    });
    ids.push(session[0]?.sessionId ?? '');
    events.push(...session);
  }
  msgSeq += 1;
  await jetstream(client).publish(
    sessionsSubject(org, 'berlin'),
    batchBytes(events, { orgId: org, siteId: 'berlin' }),
    { msgID: `wiring-retention:${msgSeq}` },
  );
  return ids;
}

async function stored(ids: string[]): Promise<void> {
  await waitFor(() => ids.every((id) => storedIds.has(id)), 20_000, 'the sessions to be inserted');
}

async function count(org: string, where = '1'): Promise<number> {
  const rows = await collector.store.query<{ n: number }>(
    `SELECT count() AS n FROM connlog.network_logs WHERE org_id = {org:String} AND ${where}`,
    { org },
  );
  return rows[0]?.n ?? -1;
}

async function stamps(org: string): Promise<number[]> {
  const rows = await collector.store.query<{ d: number }>(
    'SELECT DISTINCT retention_days AS d FROM connlog.sessions WHERE org_id = {org:String} ORDER BY d',
    { org },
  );
  return rows.map((r) => r.d);
}

function metric(name: string, labels = ''): number {
  const line = collector.metrics
    .render()
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

async function putRetention(org: string, days: number): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}/api/v1/orgs/${org}/retention`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ days }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  nats = await startNatsServer();
  client = await connect({ servers: nats.url });
  config = runningConfig(dir.path, nats.url, {
    // Passes run when the test says so (enforceRetention), not on a clock.
    retention: { defaultDays: 30, enforceInterval: 0 },
    adminLog: { retentionDays: 200 },
  });
  collector = createCollector(config, { log });
  collector.onRowsStored((rows: readonly SessionRow[]) => {
    for (const row of rows) storedIds.add(row.session_id);
  });
  await collector.start();
  base = `http://${collector.httpAddress()}`;
  jsm = await jetstreamManager(client);
});

afterAll(async () => {
  await collector.close();
  await client.close();
  await nats.remove();
  dir.remove();
});

describe('retention in a running collector', () => {
  it('makes rows older than the retention disappear after the enforcement pass, and keeps the rest', async () => {
    const old = await publishSessions('aged', [45, 40, 31]);
    const recent = await publishSessions('aged', [29, 1]);
    await drained(jsm);
    await stored([...old, ...recent]);
    expect(await stamps('aged')).toEqual([30]);

    const partitions = await collector.enforceRetention();
    expect(await count('aged', 'started_at < now() - INTERVAL 30 DAY')).toBe(0);
    expect(await count('aged')).toBe(recent.length);
    // Either the pass or ClickHouse's own TTL merge removed the old rows; the pass
    // reports the partitions it still found expired.
    expect(partitions).toBeGreaterThanOrEqual(0);
    expect(await collector.enforceRetention()).toBe(0);
  });

  it('shortening one org removes its old rows at once and leaves other orgs alone', async () => {
    const shortOld = await publishSessions('shorten', [20, 10]);
    const shortNew = await publishSessions('shorten', [1]);
    const otherRows = await publishSessions('bystander', [20, 10, 1]);
    await drained(jsm);
    await stored([...shortOld, ...shortNew, ...otherRows]);
    expect(await count('shorten')).toBe(3);

    const answer = await putRetention('shorten', 7);
    expect(answer).toMatchObject({ org: 'shorten', days: 7, source: 'org' });
    expect(answer.existingRows).toMatchObject({ state: 'restamped', storedDays: 7 });

    expect(await count('shorten')).toBe(shortNew.length);
    expect(await stamps('shorten')).toEqual([7]);
    expect(await count('bystander')).toBe(otherRows.length);
    expect(await stamps('bystander')).toEqual([30]);

    // New rows of the org carry the new retention.
    const later = await publishSessions('shorten', [2]);
    await drained(jsm);
    await stored(later);
    expect(await stamps('shorten')).toEqual([7]);
  });

  it('0 stores nothing for that org (acked, counted) and leaves other orgs stored', async () => {
    await putRetention('silent', 0);
    const before = metric('connlog_collector_events_dropped_total', '{reason="retention_zero"}');
    await publishSessions('silent', [1, 2]);
    const control = await publishSessions('loud', [1]);
    await drained(jsm);
    await stored(control);
    expect(await count('silent')).toBe(0);
    expect(await count('loud')).toBe(1);
    expect(
      metric('connlog_collector_events_dropped_total', '{reason="retention_zero"}') - before,
    ).toBe(6);
  });

  it('keeps forever (-1) as 65535, expiring at the end of DateTime instead of wrapping', async () => {
    await putRetention('archive', -1);
    const ids = await publishSessions('archive', [4000, 1]);
    await drained(jsm);
    await stored(ids);
    expect(await stamps('archive')).toEqual([65_535]);
    await collector.enforceRetention();
    expect(await count('archive')).toBe(2);

    const [table] = await collector.store.query<{ q: string }>(
      "SELECT create_table_query AS q FROM system.tables WHERE database = 'connlog' AND name = 'sessions'",
    );
    expect(table?.q).toContain(
      'TTL toDateTime(least(toUInt64(toUnixTimestamp(started_at)) + (toUInt64(retention_days) * 86400), 4294967295))',
    );
    // The parts holding these rows expire at DateTime's last second, not decades early.
    const [part] = await collector.store.query<{ expiry: string }>(
      `SELECT toString(max(delete_ttl_info_max)) AS expiry FROM system.parts
       WHERE database = 'connlog' AND table = 'sessions' AND active
         AND partition_id = formatDateTime(now() - INTERVAL 1 DAY, '%Y%m%d')`,
    );
    expect(part?.expiry).toBe('2106-02-07 06:28:15');
  });

  it('applies a change made elsewhere (another collector, the CLI) through the KV watch', async () => {
    const ids = await publishSessions('remote', [12, 1]);
    await drained(jsm);
    await stored(ids);
    expect(await count('remote')).toBe(2);

    const nc = await connect({ servers: nats.url });
    const elsewhere = await createRetentionSettings({ nc, defaultDays: 30, log });
    try {
      await elsewhere.set('remote', 5, 'cli:someone');
    } finally {
      await elsewhere.close();
      await nc.close();
    }
    const view = await waitFor(
      async () => {
        const response = await fetch(`${base}/api/v1/orgs/remote/retention`);
        const body = (await response.json()) as { days: number; updatedBy: string };
        return body.days === 5 ? body : undefined;
      },
      10_000,
      'this collector to see remote = 5',
    );
    expect(view.updatedBy).toBe('cli:someone');
    // The mutation rewrites part by part: wait for all of it.
    await waitFor(
      async () => (await count('remote')) === 1 && (await stamps('remote')).join() === '5',
      20_000,
      'the 12-day-old row to go and the other to carry 5 days',
    );
  });

  it('stamps admin log rows with adminLog.retentionDays and records changes made through the API', async () => {
    await putRetention('audited', 9);
    const rows = await waitFor(
      async () => {
        const found = await collector.store.query<{
          actor_type: string;
          outcome: string;
          retention_days: number;
          metadata: string;
        }>(
          `SELECT actor_type, outcome, retention_days, metadata FROM connlog.admin_actions
           WHERE org_id = 'audited' AND action = 'retention.update'`,
        );
        return found.length > 0 ? found : undefined;
      },
      10_000,
      'the retention change in the admin log',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_type: 'user', outcome: 'success', retention_days: 200 });
    expect(JSON.parse(rows[0]?.metadata ?? '{}')).toMatchObject({ days: 9, previousDays: 30 });
  });
});
