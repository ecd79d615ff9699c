import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  ADMIN_ACTIONS,
  AdminLogError,
  REDACTED,
  adminActionsCsv,
  adminActionsSql,
  createAdminLog,
  decodeAdminCursor,
  encodeAdminCursor,
  redactMetadata,
  type AdminActionPage,
  type AdminActionQuery,
} from '../../src/admin/index.js';
import type { AdminActionRow } from '../../src/store/store.js';

const log = pino({ level: 'silent' });

async function rejection(promise: Promise<unknown>): Promise<AdminLogError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AdminLogError) return err;
    throw new Error(`not an AdminLogError: ${String(err)}`);
  }
  throw new Error('resolved');
}

describe('metadata redaction', () => {
  it('redacts secret-looking keys at any depth, keeps the rest', () => {
    const out = redactMetadata({
      days: 7,
      password: 'hunter2',
      apiKey: 'clk_0123456789abcdef_x',
      keyId: '0123456789abcdef',
      nested: {
        refresh_token: 't',
        Authorization: 'Bearer x',
        list: [{ clientSecret: 's', ok: 1 }],
      },
      'X-ClickHouse-Key': 'k',
      cookie: 'c',
      dbCredentials: 'c',
    });
    expect(out).toEqual({
      days: 7,
      password: REDACTED,
      apiKey: REDACTED,
      keyId: '0123456789abcdef',
      nested: {
        refresh_token: REDACTED,
        Authorization: REDACTED,
        list: [{ clientSecret: REDACTED, ok: 1 }],
      },
      'X-ClickHouse-Key': REDACTED,
      cookie: REDACTED,
      dbCredentials: REDACTED,
    });
  });

  it('strips the secret of an API key found inside a text value', () => {
    const key = `clk_0123456789abcdef_${'A'.repeat(43)}`;
    const out = redactMetadata({ query: `SELECT 1 -- ${key}` });
    expect(out.query).toBe(`SELECT 1 -- clk_0123456789abcdef_${REDACTED}`);
    expect(JSON.stringify(out)).not.toContain('A'.repeat(43));
  });

  it('is JSON-safe and bounded', () => {
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 20; i += 1) {
      const next: Record<string, unknown> = {};
      cur.child = next;
      cur = next;
    }
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i]));
    const out = redactMetadata({
      deep,
      many,
      long: 'x'.repeat(10_000),
      fn: () => 1,
      n: Number.POSITIVE_INFINITY,
      big: 10n,
      at: new Date(0),
    });
    const text = JSON.stringify(out);
    expect(text).toContain('[too deep]');
    expect(Object.keys(out.many as object).length).toBe(65);
    expect((out.long as string).length).toBe(4097);
    expect(out).not.toHaveProperty('fn');
    expect(out.n).toBe('Infinity');
    expect(out.big).toBe('10');
    expect(out.at).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('admin action query SQL', () => {
  it('builds a fully parameterized, newest-first statement', () => {
    const { sql, params, limit } = adminActionsSql('connlog', {
      org: 'acme',
      from: new Date(1000),
      to: new Date(2000),
      action: ['retention.update', 'apikey.create'],
      actor: ['alice'],
      actorType: ['api_key'],
      outcome: ['denied'],
      limit: 10,
    });
    expect(limit).toBe(10);
    expect(sql).toContain('FROM connlog.admin_actions WHERE org_id = {org:String}');
    expect(sql).toContain("timestamp >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')");
    expect(sql).toContain('action IN {actions:Array(String)}');
    expect(sql).toContain(
      '(actor IN {actors:Array(String)} OR actor_id IN {actors:Array(String)})',
    );
    expect(sql).toContain('ORDER BY timestamp DESC, sipHash64(');
    expect(sql).toMatch(/LIMIT \{limit:UInt32\}$/);
    expect(sql).not.toContain('acme');
    expect(sql).not.toContain('alice');
    expect(params).toEqual({
      org: 'acme',
      from: 1000,
      to: 2000,
      actions: ['retention.update', 'apikey.create'],
      actors: ['alice'],
      actorTypes: ['api_key'],
      outcomes: ['denied'],
      limit: 11,
    });
  });

  it.each<[AdminActionQuery, string]>([
    [{ org: 'a b' }, 'org'],
    [{ action: ['retention.delete'] }, 'action'],
    [{ outcome: ['ok'] }, 'outcome'],
    [{ actorType: ['robot'] }, 'actorType'],
    [{ limit: 0 }, 'limit'],
    [{ limit: 1001 }, 'limit'],
    [{ cursor: 'garbage!' }, 'cursor'],
    [{ from: new Date('nope') }, 'from'],
  ])('refuses %j naming %s', (q, name) => {
    let err: unknown;
    try {
      adminActionsSql('connlog', q);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdminLogError);
    expect((err as AdminLogError).code).toBe('ADMIN_LOG_INVALID');
    expect((err as AdminLogError).message.startsWith(`${name}:`)).toBe(true);
  });

  it('round-trips cursors, 64-bit hashes included', () => {
    const cursor = { ms: 1_714_564_800_123, hash: '18446744073709551615' };
    expect(decodeAdminCursor(encodeAdminCursor(cursor))).toEqual(cursor);
    expect(decodeAdminCursor('YTE6MTox')).toEqual({ ms: 1, hash: '1' });
    expect(decodeAdminCursor(Buffer.from('v1:1:1').toString('base64url'))).toBeUndefined();
  });
});

describe('admin action names', () => {
  it('docs/admin-log.md documents every action', () => {
    const doc = readFileSync(new URL('../../../docs/admin-log.md', import.meta.url), 'utf8');
    for (const action of Object.keys(ADMIN_ACTIONS)) expect(doc).toContain(`\`${action}\``);
  });
});

/** An in-memory stand-in for the insert path: this unit tests batching, not ClickHouse. */
function fakeStore(options: { failFirst?: number } = {}) {
  const inserts: { rows: AdminActionRow[]; token: string | undefined }[] = [];
  let failures = options.failFirst ?? 0;
  return {
    inserts,
    insertAdminActions(rows: readonly AdminActionRow[], opts?: { dedupToken?: string }) {
      inserts.push({ rows: [...rows], token: opts?.dedupToken });
      if (failures > 0) {
        failures -= 1;
        return Promise.reject(new Error('ClickHouse down'));
      }
      return Promise.resolve();
    },
    query: <T>() => Promise.resolve([] as T[]),
  };
}

const record = {
  orgId: 'acme',
  action: 'retention.update',
  actorType: 'api_key',
  actor: 'ops key',
  actorId: '0123456789abcdef',
  outcome: 'success',
} as const;

describe('admin log batching', () => {
  it('batches up to maxBatch, serializes metadata without secrets', async () => {
    const store = fakeStore();
    const adminLog = createAdminLog({ store, log, maxBatch: 3, flushIntervalMs: 60_000 });
    const all = [1, 2, 3].map((i) =>
      adminLog.record({ ...record, metadata: { days: i, token: 'secret' } }),
    );
    await Promise.all(all);
    expect(store.inserts).toHaveLength(1);
    const rows = store.inserts[0]?.rows ?? [];
    expect(rows.map((r) => JSON.parse(r.metadata) as unknown)).toEqual([
      { days: 1, token: REDACTED },
      { days: 2, token: REDACTED },
      { days: 3, token: REDACTED },
    ]);
    expect(rows[0]).toMatchObject({
      org_id: 'acme',
      action: 'retention.update',
      actor_type: 'api_key',
    });
    await adminLog.close();
  });

  it('retries a failed batch with the same rows and dedup token', async () => {
    const store = fakeStore({ failFirst: 1 });
    const adminLog = createAdminLog({
      store,
      log,
      maxBatch: 2,
      flushIntervalMs: 10,
      retryDelayMs: 10,
    });
    const first = adminLog.record(record);
    const second = adminLog.record({ ...record, outcome: 'denied' });
    await Promise.all([first, second]);
    expect(store.inserts).toHaveLength(2);
    expect(store.inserts[1]?.token).toBe(store.inserts[0]?.token);
    expect(store.inserts[1]?.rows).toEqual(store.inserts[0]?.rows);
    await adminLog.close();
  });

  it('refuses records past maxBuffered with ADMIN_LOG_FULL', async () => {
    const store = fakeStore({ failFirst: 1000 });
    const adminLog = createAdminLog({
      store,
      log,
      maxBatch: 10,
      maxBuffered: 2,
      flushIntervalMs: 60_000,
      retryDelayMs: 60_000,
    });
    const kept = [adminLog.record(record), adminLog.record(record)];
    const err = await rejection(adminLog.record(record));
    expect(err.code).toBe('ADMIN_LOG_FULL');
    await adminLog.close();
    // ClickHouse never took them: their callers learn it.
    for (const p of kept) expect((await rejection(p)).code).toBe('ADMIN_LOG_CLOSED');
  });

  it('refuses bad records naming the field', async () => {
    const adminLog = createAdminLog({ store: fakeStore(), log });
    const bad = { ...record, action: 'retention.delete' } as unknown as typeof record;
    const err = await rejection(adminLog.record(bad));
    expect(err.code).toBe('ADMIN_LOG_INVALID');
    expect(err.message).toContain('action');
    const org = await rejection(adminLog.record({ ...record, orgId: 'a b' }));
    expect(org.message).toContain('orgId');
    await adminLog.close();
    await adminLog.close();
    expect((await rejection(adminLog.record(record))).code).toBe('ADMIN_LOG_CLOSED');
  });
});

describe('admin CSV', () => {
  it('streams a header and every page, neutralizing formulas', async () => {
    const pages: AdminActionPage[] = [
      {
        items: [
          {
            timestamp: '2030-01-01T00:00:00.000Z',
            orgId: 'acme',
            action: 'logs.export',
            actorType: 'api_key',
            actor: '=cmd()',
            actorId: 'k1',
            outcome: 'success',
            metadata: { rows: 3 },
          },
        ],
        nextCursor: 'c1',
      },
      {
        items: [
          {
            timestamp: '2029-12-31T00:00:00.000Z',
            orgId: 'acme',
            action: 'sql.query',
            actorType: 'cli',
            actor: 'root',
            actorId: '',
            outcome: 'error',
            metadata: {},
          },
        ],
      },
    ];
    const seen: AdminActionQuery[] = [];
    const query = (q: AdminActionQuery) => {
      seen.push(q);
      return Promise.resolve(pages[seen.length - 1] ?? { items: [] });
    };
    let text = '';
    for await (const chunk of adminActionsCsv(query, { org: 'acme' }, { pageSize: 1 }))
      text += chunk;
    expect(text).toBe(
      'timestamp,org_id,action,actor_type,actor,actor_id,outcome,metadata\r\n' +
        `2030-01-01T00:00:00.000Z,acme,logs.export,api_key,'=cmd(),k1,success,"{""rows"":3}"\r\n` +
        '2029-12-31T00:00:00.000Z,acme,sql.query,cli,root,,error,{}\r\n',
    );
    expect(seen.map((q) => q.cursor)).toEqual([undefined, 'c1']);
  });
});
