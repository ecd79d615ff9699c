import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@connlog/metrics';
import { startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RetentionError,
  createRetentionSettings,
  createTtlEnforcer,
  type RetentionSettings,
  type TtlEnforcer,
} from '../../src/retention/index.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { Store } from '../../src/store/store.js';
import { sessionRow } from '../helpers/rows.js';

/**
 * Retention on real infrastructure: settings in a real nats-server's KV, TTL on the
 * real embedded ClickHouse in a temp dir.
 */

const log = pino({ level: 'silent' });
const DAY = 86_400_000;
const dir = tempDir('retention');
let nats: NatsServer;
let store: Store;
const connections: NatsConnection[] = [];
const closers: (() => Promise<void>)[] = [];

async function settingsOnNewConnection(defaultDays = 30): Promise<RetentionSettings> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  const settings = await createRetentionSettings({ nc, defaultDays, log });
  closers.push(() => settings.close());
  return settings;
}

async function count(org: string, where = '1'): Promise<number> {
  const rows = await store.query<{ n: number }>(
    `SELECT count() AS n FROM connlog.sessions WHERE org_id = {org:String} AND ${where}`,
    { org },
  );
  return rows[0]?.n ?? -1;
}

async function stamps(org: string): Promise<number[]> {
  const rows = await store.query<{ d: number }>(
    'SELECT DISTINCT retention_days AS d FROM connlog.sessions WHERE org_id = {org:String} ORDER BY d',
    { org },
  );
  return rows.map((r) => r.d);
}

beforeAll(async () => {
  nats = await startNatsServer();
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
});

afterAll(async () => {
  for (const close of closers) await close();
  for (const nc of connections) await nc.close();
  await store.close();
  await nats.remove();
  dir.remove();
});

describe('retention settings in NATS KV', () => {
  it('a change made on one collector is seen by another', async () => {
    const a = await settingsOnNewConnection();
    const b = await settingsOnNewConnection();
    expect(a.get('acme')).toBe(30);
    expect(b.get('acme')).toBe(30);

    const stored = await a.set('acme', 7, 'api_key:0123456789abcdef');
    expect(stored).toMatchObject({ days: 7, updatedBy: 'api_key:0123456789abcdef' });
    // Read-your-writes on the collector that made the change.
    expect(a.get('acme')).toBe(7);
    await waitFor(() => b.get('acme') === 7, 5000, 'the second collector to see acme = 7');
    expect(b.setting('acme')).toMatchObject({ days: 7, updatedBy: 'api_key:0123456789abcdef' });

    const seen: [string, number][] = [];
    b.onChange((org, days) => seen.push([org, days]));
    await a.set('acme', 14, 'cli:root');
    await waitFor(() => b.get('acme') === 14, 5000, 'the second collector to see acme = 14');
    expect(seen).toContainEqual(['acme', 14]);
    expect(b.get('globex')).toBe(30);
  });

  it('0 means the caller drops the org\u2019s events; -1 is stamped 65535', async () => {
    const a = await settingsOnNewConnection();
    await a.set('quiet', 0, 'cli:root');
    await a.set('keeper', -1, 'cli:root');
    expect(a.get('quiet')).toBe(0);
    expect(a.storedDays('quiet')).toBe(0);
    expect(a.get('keeper')).toBe(-1);
    expect(a.storedDays('keeper')).toBe(65535);
    expect(a.storedDays('nobody')).toBe(30);
  });

  it('a collector started later loads every setting before it answers', async () => {
    const c = await settingsOnNewConnection(90);
    // No waiting: createRetentionSettings resolves once the bucket is loaded.
    expect(c.get('quiet')).toBe(0);
    expect(c.get('keeper')).toBe(-1);
    expect(c.get('nobody')).toBe(90);
    expect(c.list().map((s) => s.org)).toEqual(expect.arrayContaining(['acme', 'keeper', 'quiet']));
  });

  it('refuses bad values naming them, and a bad default naming the config key', async () => {
    const a = await settingsOnNewConnection();
    await expect(a.set('acme', 36500, 'x')).rejects.toThrow(/days must be an integer.*got 36500/);
    await expect(a.set('acme', 1.5, 'x')).rejects.toBeInstanceOf(RetentionError);
    await expect(a.set('bad org', 7, 'x')).rejects.toThrow(/org must be/);
    await expect(settingsOnNewConnection(-5)).rejects.toThrow(/retention.defaultDays/);
    await a.close();
    await a.close();
    await expect(a.set('acme', 7, 'x')).rejects.toThrow(/closed/);
  });
});

describe('TTL enforcement on the embedded engine', () => {
  let enforcer: TtlEnforcer;
  const registry = new Registry();

  beforeAll(() => {
    enforcer = createTtlEnforcer({ store, log, registry, intervalMs: 0 });
    closers.push(() => enforcer.close());
  });

  it('a shorter retention removes an org\u2019s old rows, keeps its recent ones and other orgs', async () => {
    const now = Date.now();
    await store.insertSessions([
      ...Array.from({ length: 20 }, () =>
        sessionRow({ org_id: 'ttl-a', started_at: now - 10 * DAY }),
      ),
      ...Array.from({ length: 5 }, () => sessionRow({ org_id: 'ttl-a', started_at: now - DAY })),
      ...Array.from({ length: 7 }, () =>
        sessionRow({ org_id: 'ttl-b', started_at: now - 10 * DAY }),
      ),
    ]);
    expect(await count('ttl-a')).toBe(25);

    const applied = await enforcer.applyRetention('ttl-a', 5);
    expect(applied).toMatchObject({ org: 'ttl-a', days: 5, storedDays: 5 });
    expect(await count('ttl-a')).toBe(5);
    expect(await stamps('ttl-a')).toEqual([5]);
    expect(await count('ttl-b')).toBe(7);
    expect(await stamps('ttl-b')).toEqual([30]);
    expect(registry.render()).toMatch(
      /connlog_collector_retention_restamps_total\{outcome="ok"\} 1/,
    );
  });

  it('a longer retention keeps rows the old one would have dropped', async () => {
    const now = Date.now();
    await store.insertSessions(
      Array.from({ length: 4 }, () =>
        sessionRow({ org_id: 'ttl-c', started_at: now - 20 * DAY, retention_days: 30 }),
      ),
    );
    await enforcer.applyRetention('ttl-c', 365);
    expect(await stamps('ttl-c')).toEqual([365]);
    await enforcer.applyRetention('ttl-c', -1);
    expect(await stamps('ttl-c')).toEqual([65535]);
    await enforcer.runOnce();
    expect(await count('ttl-c')).toBe(4);
  });

  it('0 leaves existing rows as they are', async () => {
    await store.insertSessions([sessionRow({ org_id: 'ttl-d', started_at: Date.now() - DAY })]);
    expect(await enforcer.applyRetention('ttl-d', 0)).toMatchObject({ storedDays: undefined });
    expect(await stamps('ttl-d')).toEqual([30]);
  });

  it('a pass removes rows that expired with time, in every partition, and nothing else', async () => {
    const now = Date.now();
    // Stamped with a retention they have already outlived, as rows are when their
    // day comes: nothing re-stamps them, only a merge removes them. Ten day
    // partitions, so ClickHouse's own background TTL merges cannot have done them all.
    const expired = Array.from({ length: 10 }, (_, day) =>
      Array.from({ length: 3 }, () =>
        sessionRow({ org_id: 'ttl-e', started_at: now - (day + 3) * DAY, retention_days: 1 }),
      ),
    ).flat();
    await store.insertSessions([
      ...expired,
      ...Array.from({ length: 3 }, () =>
        sessionRow({ org_id: 'ttl-e', started_at: now - 3 * DAY, retention_days: 30 }),
      ),
    ]);
    // Usually all 33 rows are still there; ClickHouse's own TTL merges may already have
    // removed some (rarely all) of the expired ones, which is fine: the pass must leave
    // exactly the 3 live rows either way.
    expect(await count('ttl-e')).toBeGreaterThanOrEqual(3);
    await enforcer.runOnce();
    expect(await count('ttl-e')).toBe(3);
    expect(await stamps('ttl-e')).toEqual([30]);
    // Nothing expired is left anywhere, so the next pass merges nothing.
    expect(await enforcer.runOnce()).toBe(0);
  });

  it('reconcile re-stamps rows whose retention disagrees with the setting', async () => {
    await store.insertSessions(
      Array.from({ length: 3 }, () =>
        sessionRow({ org_id: 'ttl-f', started_at: Date.now() - DAY }),
      ),
    );
    // ttl-d stores nothing (0: never re-stamped); NaN is no retention_days (skipped).
    const expected: Record<string, number> = { 'ttl-f': 90, 'ttl-d': 0, 'ttl-e': Number.NaN };
    const fixed = await enforcer.reconcile((org) => expected[org] ?? 0);
    expect(fixed).toContain('ttl-f');
    expect(fixed).toEqual(['ttl-f']);
    expect(await stamps('ttl-d')).toEqual([30]);
    expect(await stamps('ttl-e')).toEqual([30]);
    expect(await stamps('ttl-f')).toEqual([90]);
  });

  it('runs on a schedule after start(), and close() is idempotent', async () => {
    const scheduled = createTtlEnforcer({ store, log, intervalMs: 50 });
    await store.insertSessions([
      sessionRow({ org_id: 'ttl-g', started_at: Date.now() - 5 * DAY, retention_days: 1 }),
    ]);
    scheduled.start();
    scheduled.start();
    await waitFor(
      async () => (await count('ttl-g')) === 0,
      30_000,
      'the scheduled pass to expire ttl-g',
    );
    await scheduled.close();
    await scheduled.close();
    await expect(scheduled.runOnce()).rejects.toThrow(/closed/);
  });
});
