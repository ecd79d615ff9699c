import { Registry } from '@connlog/metrics';
import { tempDir } from '@connlog/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminLogError,
  adminActionsCsv,
  createAdminLog,
  type AdminActionEntry,
  type AdminLog,
} from '../../src/admin/index.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { Store } from '../../src/store/store.js';

/** The admin action log on the real embedded ClickHouse in a temp dir. */

const log = pino({ level: 'silent' });
const dir = tempDir('admin');
const registry = new Registry();
let store: Store;
let adminLog: AdminLog;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

beforeAll(async () => {
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  adminLog = createAdminLog({ store, log, registry, flushIntervalMs: 20 });
});

afterAll(async () => {
  await adminLog.close();
  await store.close();
  dir.remove();
});

describe('admin action log', () => {
  it('records actions with redacted metadata and reads them back, newest first', async () => {
    await Promise.all([
      adminLog.record({
        orgId: 'acme',
        action: 'retention.update',
        actorType: 'api_key',
        actor: 'ops key',
        actorId: '0123456789abcdef',
        outcome: 'success',
        metadata: { days: 7, previousDays: 30, password: 'hunter2' },
        at: new Date(T0),
      }),
      adminLog.record({
        orgId: 'acme',
        action: 'apikey.create',
        actorType: 'cli',
        actor: 'root',
        actorId: '',
        outcome: 'success',
        metadata: { keyId: 'fedcba9876543210', role: 'auditor' },
        at: new Date(T0 + 1000),
      }),
      adminLog.record({
        orgId: 'globex',
        action: 'sql.query',
        actorType: 'api_key',
        actor: 'analyst',
        actorId: '1111111111111111',
        outcome: 'denied',
        metadata: { query: 'SELECT 1' },
        at: new Date(T0 + 2000),
      }),
    ]);
    const page = await adminLog.query({ org: 'acme' });
    expect(page.nextCursor).toBeUndefined();
    expect(page.items).toEqual<AdminActionEntry[]>([
      {
        timestamp: new Date(T0 + 1000).toISOString(),
        orgId: 'acme',
        action: 'apikey.create',
        actorType: 'cli',
        actor: 'root',
        actorId: '',
        outcome: 'success',
        metadata: { keyId: 'fedcba9876543210', role: 'auditor' },
      },
      {
        timestamp: new Date(T0).toISOString(),
        orgId: 'acme',
        action: 'retention.update',
        actorType: 'api_key',
        actor: 'ops key',
        actorId: '0123456789abcdef',
        outcome: 'success',
        metadata: { days: 7, previousDays: 30, password: '[redacted]' },
      },
    ]);
    const raw = await store.query<{ metadata: string }>(
      'SELECT metadata FROM connlog.admin_actions',
    );
    expect(raw.map((r) => r.metadata).join()).not.toContain('hunter2');
    expect(registry.render()).toContain(
      'connlog_collector_admin_actions_total{action="sql.query",outcome="denied"} 1',
    );
  });

  it('filters by action, actor (name or id), outcome and time', async () => {
    const actions = (items: AdminActionEntry[]) => items.map((i) => i.action);
    expect(actions((await adminLog.query({ action: ['sql.query'] })).items)).toEqual(['sql.query']);
    expect(actions((await adminLog.query({ actor: ['0123456789abcdef'] })).items)).toEqual([
      'retention.update',
    ]);
    expect(actions((await adminLog.query({ actor: ['root', 'analyst'] })).items)).toEqual([
      'sql.query',
      'apikey.create',
    ]);
    expect(actions((await adminLog.query({ outcome: ['denied'] })).items)).toEqual(['sql.query']);
    expect(actions((await adminLog.query({ actorType: ['cli'] })).items)).toEqual([
      'apikey.create',
    ]);
    expect(
      actions((await adminLog.query({ from: new Date(T0 + 1000), to: new Date(T0 + 2000) })).items),
    ).toEqual(['apikey.create']);
    expect((await adminLog.query({ org: 'initech' })).items).toEqual([]);
    await expect(adminLog.query({ action: ['nope'] })).rejects.toBeInstanceOf(AdminLogError);
  });

  it('pages with a keyset cursor, rows of the same millisecond included', async () => {
    const at = new Date(T0 + 60_000);
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        adminLog.record({
          orgId: 'paged',
          action: 'logs.export',
          actorType: 'api_key',
          actor: 'exporter',
          actorId: 'aaaaaaaaaaaaaaaa',
          outcome: 'success',
          metadata: { n: i },
          // Five share each millisecond: the cursor's tie-breaker must hold.
          at: new Date(at.getTime() + Math.floor(i / 5)),
        }),
      ),
    );
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await adminLog.query({ org: 'paged', limit: 7, ...(cursor ? { cursor } : {}) });
      pages += 1;
      for (const item of page.items) seen.push(item.metadata.n as number);
      const times = page.items.map((i) => Date.parse(i.timestamp));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(pages).toBe(4);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // Newest millisecond first.
    expect(seen.slice(0, 5).every((n) => n >= 20)).toBe(true);
  });

  it('exports CSV through the same query, every row once', async () => {
    let text = '';
    for await (const chunk of adminActionsCsv(
      (q) => adminLog.query(q),
      { org: 'paged' },
      { pageSize: 4 },
    )) {
      text += chunk;
    }
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('timestamp,org_id,action,actor_type,actor,actor_id,outcome,metadata');
    expect(lines).toHaveLength(26);
    expect(new Set(lines.slice(1)).size).toBe(25);
  });

  it('stores the table\u2019s own retention on each row', async () => {
    const rows = await store.query<{ d: number }>(
      'SELECT DISTINCT retention_days AS d FROM connlog.admin_actions',
    );
    expect(rows.map((r) => r.d)).toEqual([365]);
  });
});
