import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { sessionsSubject } from '@connlog/proto';
import { startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { createCollector, type Collector } from '../../src/collector.js';
import { parseConfig, type CollectorConfig } from '../../src/config.js';
import type { SessionRow, Store } from '../../src/store/store.js';
import { createChdbStore } from '../../src/store/chdb.js';
import { migrations } from '../../src/store/schema.js';
import { CollectorError } from '../../src/errors.js';
import { drained, runningConfig } from '../helpers/running.js';
import { batchBytes, sessionEvents, startEvent } from '../helpers/events.js';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const dataDir = tempDir('collector');
let nats: NatsServer;
let client: NatsConnection;
let jsm: JetStreamManager;
let config: CollectorConfig;
let collector: Collector;
let msgSeq = 0;

function start(store?: Store): Promise<void> {
  collector = createCollector(config, {
    log,
    retentionFor: (org) => (org === 'nostore' ? 0 : config.retention.defaultDays),
    ...(store ? { store } : {}),
  });
  return collector.start();
}

async function publish(
  org: string,
  site: string,
  bytes: Uint8Array,
  subject = sessionsSubject(org, site),
): Promise<void> {
  msgSeq += 1;
  await jetstream(client).publish(subject, bytes, { msgID: `test:${msgSeq}` });
}

async function networkLogs(org: string): Promise<Record<string, unknown>[]> {
  return collector.store.query(
    `SELECT session_id, bytes_tx, bytes_rx, status, close_reason, version, duration_ms
     FROM network_logs WHERE org_id = {org:String} ORDER BY session_id`,
    { org },
  );
}

async function count(sql: string, params: Record<string, unknown>): Promise<number> {
  const rows = await collector.store.query<{ n: number }>(sql, params);
  return rows[0]?.n ?? -1;
}

async function deadLetters(): Promise<{ subject: string; reason: string; original: string }[]> {
  const out: { subject: string; reason: string; original: string }[] = [];
  const info = await jsm.streams.info('CONNLOG_DEAD');
  for (
    let seq = info.state.first_seq;
    seq <= info.state.last_seq && info.state.messages > 0;
    seq += 1
  ) {
    const msg = await jsm.streams.getMessage('CONNLOG_DEAD', { seq });
    if (!msg) continue;
    out.push({
      subject: msg.subject,
      reason: msg.header.get('Connlog-Reject-Reason'),
      original: msg.header.get('Connlog-Original-Subject'),
    });
  }
  return out;
}

beforeAll(async () => {
  nats = await startNatsServer();
  client = await connect({ servers: nats.url });
  config = runningConfig(dataDir.path, nats.url);
  await start();
  jsm = await jetstreamManager(client);
});

afterAll(async () => {
  await collector.close();
  await client.close();
  await nats.remove();
  dataDir.remove();
});

describe('collector', () => {
  it('collapses START, UPDATE and END of a session to one row with the final counters', async () => {
    const stored: SessionRow[] = [];
    const unsubscribe = collector.onRowsStored((rows) => stored.push(...rows));
    const [start, update, end] = sessionEvents({ orgId: 'one', siteId: 's1' });
    for (const event of [start, update, end]) {
      if (!event) throw new Error('missing event');
      await publish('one', 's1', batchBytes([event], { orgId: 'one', siteId: 's1' }));
    }
    const rows = await waitFor(
      async () => {
        const found = await networkLogs('one');
        return found[0]?.version === 3 ? found : undefined;
      },
      20_000,
      'the END version in network_logs',
    );
    expect(rows).toEqual([
      {
        session_id: start?.sessionId,
        bytes_tx: 100,
        bytes_rx: 2000,
        status: 'completed',
        close_reason: 'client_closed',
        version: 3,
        duration_ms: 2000,
      },
    ]);
    await waitFor(() => stored.length === 3, 5000, 'the live listener to see 3 rows');
    expect(stored.map((row) => row.version).sort()).toEqual([1, 2, 3]);
    unsubscribe();
  });

  it('leaves network_logs unchanged when a batch is replayed', async () => {
    const events = sessionEvents({ orgId: 'replay', siteId: 's1' });
    const bytes = batchBytes(events, { orgId: 'replay', siteId: 's1' });
    await publish('replay', 's1', bytes);
    await drained(jsm);
    const before = await networkLogs('replay');
    const rawBefore = await count('SELECT count() AS n FROM sessions WHERE org_id = {org:String}', {
      org: 'replay',
    });
    expect(before).toHaveLength(1);
    // Same bytes, new Nats-Msg-Id: JetStream stores it again (as after the dedup
    // window); storage must make the replay harmless.
    await publish('replay', 's1', bytes);
    await drained(jsm);
    expect(await networkLogs('replay')).toEqual(before);
    expect(
      await count('SELECT count() AS n FROM sessions WHERE org_id = {org:String}', {
        org: 'replay',
      }),
    ).toBe(rawBefore);
  });

  it('stores a recording gap once in recording_gaps, also when its batch is replayed', async () => {
    const fromMs = Date.now() - 30_000;
    const gap = { fromMs, toMs: fromMs + 10_000, sessionsNotRecorded: 42, reason: 'spool_full' };
    const bytes = batchBytes([], { orgId: 'gaps', siteId: 'paris', gaps: [gap] });
    await publish('gaps', 'paris', bytes);
    await drained(jsm);
    const gaps = () =>
      collector.store.query<{ sessions: number; from_ms: number; to_ms: number; reason: string }>(
        `SELECT sessions_not_recorded AS sessions, toUnixTimestamp64Milli(from_at) AS from_ms,
           toUnixTimestamp64Milli(to_at) AS to_ms, reason
         FROM recording_gaps FINAL WHERE org_id = 'gaps' AND site_id = 'paris'`,
      );
    expect(await gaps()).toEqual([
      { sessions: 42, from_ms: fromMs, to_ms: fromMs + 10_000, reason: 'spool_full' },
    ]);
    // A replay (new Nats-Msg-Id) is absorbed: the insert's token, then FINAL.
    await publish('gaps', 'paris', bytes);
    await drained(jsm);
    expect(await gaps()).toHaveLength(1);
    expect(await count("SELECT count() AS n FROM recording_gaps WHERE org_id = 'gaps'", {})).toBe(
      1,
    );
  });

  it('dead-letters a batch whose org/site disagree with its subject and keeps ingesting', async () => {
    const evil = batchBytes([startEvent({ orgId: 'victim', siteId: 's1' })], {
      orgId: 'victim',
      siteId: 's1',
    });
    await publish('attacker', 's1', evil);
    const good = batchBytes(sessionEvents({ orgId: 'after', siteId: 's1' }), {
      orgId: 'after',
      siteId: 's1',
    });
    await publish('after', 's1', good);
    await waitFor(async () => (await networkLogs('after')).length === 1, 20_000, 'the good batch');
    await drained(jsm);
    expect(await networkLogs('victim')).toEqual([]);
    expect(await networkLogs('attacker')).toEqual([]);
    const dead = await deadLetters();
    expect(dead).toContainEqual({
      subject: 'connlog.v1.dead.subject',
      reason: 'subject',
      original: 'connlog.v1.sessions.attacker.s1',
    });
  });

  it('dead-letters garbage bytes', async () => {
    await publish('junk', 's1', Buffer.from('definitely not a protobuf batch \u0000\u00ff'));
    await drained(jsm);
    const dead = await deadLetters();
    const junk = dead.filter((letter) => letter.original === 'connlog.v1.sessions.junk.s1');
    expect(junk).toHaveLength(1);
    expect(['decode', 'invalid']).toContain(junk[0]?.reason);
    const metrics = collector.metrics.render();
    expect(metrics).toMatch(/connlog_collector_dead_letter_total\{reason="subject"\} 1/);
  });

  it('acks and drops the events of an org whose retention is 0', async () => {
    await publish(
      'nostore',
      's1',
      batchBytes(sessionEvents({ orgId: 'nostore', siteId: 's1' }), {
        orgId: 'nostore',
        siteId: 's1',
      }),
    );
    await drained(jsm);
    expect(await networkLogs('nostore')).toEqual([]);
    expect(collector.metrics.render()).toMatch(
      /connlog_collector_events_dropped_total\{reason="retention_zero"\} 3/,
    );
  });

  it('stores exactly 500 sessions sent in several batches', async () => {
    const sessions = Array.from({ length: 500 }, () =>
      sessionEvents({ orgId: 'bulk', siteId: 's2' }),
    );
    // START of every session first, then the UPDATEs and ENDs, 50 sessions per batch.
    for (const index of [0, 1, 2]) {
      for (let i = 0; i < sessions.length; i += 50) {
        const events = sessions.slice(i, i + 50).map((list) => list[index] ?? {});
        await publish('bulk', 's2', batchBytes(events, { orgId: 'bulk', siteId: 's2' }));
      }
    }
    await drained(jsm);
    expect(
      await count(
        "SELECT count() AS n FROM network_logs WHERE org_id = {org:String} AND status = 'completed'",
        { org: 'bulk' },
      ),
    ).toBe(500);
    expect(
      await count('SELECT count() AS n FROM network_logs WHERE org_id = {org:String}', {
        org: 'bulk',
      }),
    ).toBe(500);
    expect(
      await count('SELECT uniqExact(session_id) AS n FROM sessions WHERE org_id = {org:String}', {
        org: 'bulk',
      }),
    ).toBe(500);
  });

  it('serves /healthz and /metrics', async () => {
    const base = `http://${collector.httpAddress()}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, state: 'running', nats: 'connected' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^connlog_collector_rows_inserted_total \d+/m);
    expect(metrics).toMatch(/^connlog_collector_insert_seconds_count \d+/m);
    expect(metrics).toContain('connlog_collector_consumer_pending');
  });

  it('keeps its data and schema across a restart on the same data dir', async () => {
    const bulkBefore = await count(
      'SELECT count() AS n FROM network_logs WHERE org_id = {org:String}',
      {
        org: 'bulk',
      },
    );
    await collector.close();
    await collector.close();
    await start();
    expect(
      await count('SELECT count() AS n FROM network_logs WHERE org_id = {org:String}', {
        org: 'bulk',
      }),
    ).toBe(bulkBefore);
    expect(await count('SELECT count() AS n FROM schema_migrations', {})).toBe(
      migrations({ database: 'connlog' }).length,
    );
    await publish(
      'restarted',
      's1',
      batchBytes(sessionEvents({ orgId: 'restarted', siteId: 's1' }), {
        orgId: 'restarted',
        siteId: 's1',
      }),
    );
    await waitFor(
      async () => (await networkLogs('restarted')).length === 1,
      20_000,
      'ingest after restart',
    );
  });

  it('flushes the batch in flight on close', async () => {
    await collector.close();
    const normal = config;
    // A flush interval longer than the test: only close() can flush this batch.
    config = parseConfig(
      {
        dataDir: dataDir.path,
        nats: { servers: [nats.url], consumer: { ackWait: '5m' } },
        ingest: { flushInterval: '60s' },
        http: { listen: '127.0.0.1:0' },
      },
      {},
    );
    await start();
    const events = [startEvent({ orgId: 'closing', siteId: 's1' })];
    await publish('closing', 's1', batchBytes(events, { orgId: 'closing', siteId: 's1' }));
    await waitFor(
      () => collector.status().ingest?.pendingRows === 1,
      20_000,
      'the row to wait in the batch',
    );
    expect(await networkLogs('closing')).toEqual([]);
    await collector.close();
    config = normal;
    await start();
    expect(await networkLogs('closing')).toHaveLength(1);
    await drained(jsm);
  });

  it('naks while inserts fail, then stores everything once ClickHouse takes inserts again', async () => {
    await collector.close();
    // The real embedded store, with inserts refused while `failing` is set: the fault
    // a ClickHouse outage produces at the store boundary.
    const real = createChdbStore({ dataDir: dataDir.path, database: 'connlog', log });
    let failing = true;
    let refused = 0;
    const flaky: Store = {
      ...real,
      kind: real.kind,
      database: real.database,
      // The ingest loop inserts payloads it filled message by message.
      insertSessionPayload: (payload, options) => {
        if (!failing) return real.insertSessionPayload(payload, options);
        refused += 1;
        return Promise.reject(
          new CollectorError('STORE_INSERT', 'injected: ClickHouse unavailable'),
        );
      },
    };
    await start(flaky);
    await publish(
      'outage',
      's1',
      batchBytes(sessionEvents({ orgId: 'outage', siteId: 's1' }), {
        orgId: 'outage',
        siteId: 's1',
      }),
    );
    await waitFor(() => refused >= 2, 20_000, 'two refused inserts (a redelivery after the nak)');
    expect(collector.status().ingest?.consecutiveInsertFailures).toBeGreaterThanOrEqual(2);
    expect(collector.metrics.render()).toMatch(/^connlog_collector_insert_errors_total [1-9]/m);
    expect(await networkLogs('outage')).toEqual([]);
    failing = false;
    const rows = await waitFor(
      async () => {
        const found = await networkLogs('outage');
        return found.length === 1 ? found : undefined;
      },
      40_000,
      'the session once inserts work again',
    );
    expect(rows[0]).toMatchObject({ version: 3, status: 'completed' });
    await drained(jsm);
    expect(collector.status()).toMatchObject({
      ok: true,
      ingest: { consecutiveInsertFailures: 0 },
    });
  });
});
