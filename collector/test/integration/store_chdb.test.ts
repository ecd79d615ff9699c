import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { tempDir } from '@connlog/testkit';
import { createChdbStore } from '../../src/store/chdb.js';
import type { Store } from '../../src/store/store.js';
import { CollectorError } from '../../src/errors.js';
import { sessionRow } from '../helpers/rows.js';
import { bootstrapStatements, migrations } from '../../src/store/schema.js';

const log = pino({ level: 'silent' });
const dir = tempDir('store');
let store: Store;

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of iterable) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof CollectorError ? err.code : `not a CollectorError: ${String(err)}`;
  }
  return 'resolved';
}

beforeAll(async () => {
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
});

afterAll(async () => {
  await store.close();
  dir.remove();
});

describe('chDB store', () => {
  it('migrates idempotently and records each version once', async () => {
    await store.migrate();
    const versions = await store.query<{ version: number }>(
      'SELECT version FROM connlog.schema_migrations ORDER BY version',
    );
    expect(versions.map((row) => row.version)).toEqual(
      migrations({ database: 'connlog' }).map((migration) => migration.version),
    );
    const tables = await store.query<{ name: string }>(
      "SELECT name FROM system.tables WHERE database = 'connlog' ORDER BY name",
    );
    expect(tables.map((row) => row.name)).toEqual([
      'admin_actions',
      'network_logs',
      'recording_gaps',
      'schema_migrations',
      'sessions',
    ]);
  });

  it('parses the cluster DDL (no cluster here, so the parser checks it)', async () => {
    const options = { database: 'connlog', cluster: 'prod' };
    const statements = [
      ...bootstrapStatements(options),
      ...migrations(options).flatMap((migration) => migration.statements),
    ];
    for (const sql of statements) {
      const ast = await store.query<{ explain: string }>(`EXPLAIN AST ${sql}`);
      expect(ast.length).toBeGreaterThan(0);
    }
  });

  it('inserts rows, derives status and formats addresses', async () => {
    const v4 = sessionRow({ org_id: 'addr' });
    const v6 = sessionRow({
      org_id: 'addr',
      source_ip: '2001:db8::1',
      dest_ip: '::1',
      dest_port: 443,
      ended_at: Date.UTC(2030, 0, 1, 12, 0, 5),
      status: 'completed',
      close_reason: 'client_closed',
    });
    await store.insertSessions([v4, v6]);
    const rows = await store.query<{
      session_id: string;
      status: string;
      source_addr: string;
      dest_addr: string;
      started_ms: number;
    }>(
      `SELECT session_id, status, source_addr, dest_addr, toUnixTimestamp64Milli(started_at) AS started_ms
       FROM sessions WHERE org_id = {org:String} ORDER BY source_addr`,
      { org: 'addr' },
    );
    expect(rows).toEqual([
      {
        session_id: v4.session_id,
        status: 'ongoing',
        source_addr: '192.0.2.10:50000',
        dest_addr: '10.0.0.5:5432',
        started_ms: v4.started_at,
      },
      {
        session_id: v6.session_id,
        status: 'completed',
        source_addr: '[2001:db8::1]:50000',
        dest_addr: '[::1]:443',
        started_ms: v6.started_at,
      },
    ]);
  });

  it('network_logs shows one row per session with the latest version, filters after collapsing', async () => {
    const start = sessionRow({ org_id: 'view', bytes_tx: 0 });
    const update = { ...start, version: 2, bytes_tx: 10, bytes_rx: 20, duration_ms: 60_000 };
    const end = {
      ...start,
      version: 3,
      bytes_tx: 100,
      bytes_rx: 200,
      ended_at: start.started_at + 90_000,
      duration_ms: 90_000,
      close_reason: 'target_closed',
      status: 'completed' as const,
    };
    // Separate inserts make separate parts, so nothing is merged yet.
    await store.insertSessions([end]);
    await store.insertSessions([start]);
    await store.insertSessions([update]);
    const raw = await store.query<{ n: number }>(
      "SELECT count() AS n FROM sessions WHERE org_id = 'view'",
    );
    expect(raw[0]?.n).toBe(3);
    const rows = await store.query(
      "SELECT bytes_tx, bytes_rx, status, close_reason, version FROM network_logs WHERE org_id = 'view'",
    );
    expect(rows).toEqual([
      {
        bytes_tx: 100,
        bytes_rx: 200,
        status: 'completed',
        close_reason: 'target_closed',
        version: 3,
      },
    ]);
    // A filter matching only an old version must not resurrect it.
    const stale = await store.query(
      "SELECT session_id FROM network_logs WHERE org_id = 'view' AND bytes_tx = 0",
    );
    expect(stale).toEqual([]);
  });

  it('drops a replayed insert with the same dedup token', async () => {
    const rows = [sessionRow({ org_id: 'dedup' }), sessionRow({ org_id: 'dedup' })];
    await store.insertSessions(rows, { dedupToken: 'batch-1' });
    await store.insertSessions(rows, { dedupToken: 'batch-1' });
    const count = await store.query<{ n: number }>(
      "SELECT count() AS n FROM sessions WHERE org_id = 'dedup'",
    );
    expect(count[0]?.n).toBe(2);
    await store.insertSessions(rows, { dedupToken: 'batch-2' });
    const after = await store.query<{ n: number }>(
      "SELECT count() AS n FROM sessions WHERE org_id = 'dedup'",
    );
    expect(after[0]?.n).toBe(4);
  });

  it('streams results in the requested format, one stream at a time per mode', async () => {
    const csv = await collect(
      store.queryStream('SELECT number FROM numbers({n:UInt32})', { n: 3 }, 'CSV'),
    );
    expect(csv).toBe('0\n1\n2\n');
    // Two streams of the same mode are serialized; a plain query still runs meanwhile.
    const first = collect(store.queryStream('SELECT number FROM numbers(200000)', {}, 'CSV'));
    const second = collect(store.queryStream('SELECT 7 AS x', {}, 'JSONEachRow'));
    const plain = store.query<{ y: number }>('SELECT {x:UInt8} + 1 AS y', { x: 1 });
    const [a, b, c] = await Promise.all([first, second, plain]);
    expect(a.split('\n').length).toBe(200001);
    expect(b).toBe('{"x":7}\n');
    expect(c).toEqual([{ y: 2 }]);
  });

  it('stops a stream early and frees its slot', async () => {
    for await (const chunk of store.queryStream('SELECT number FROM numbers(5000000)', {}, 'CSV')) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    const next = await collect(store.queryStream('SELECT 1 AS one', {}, 'CSV'));
    expect(next).toBe('1\n');
  });

  it('accepts trailing semicolons and comments, refuses a FORMAT clause', async () => {
    expect(await store.query('SELECT 1 AS a;  \n')).toEqual([{ a: 1 }]);
    expect(await store.query('SELECT 1 AS a -- why not', {}, { readonly: true })).toEqual([
      { a: 1 },
    ]);
    expect(await codeOf(store.query('SELECT 1 FORMAT CSV'))).toBe('STORE_SYNTAX');
    expect(await codeOf(store.query('SELECT * FROM no_such_table'))).toBe('STORE_QUERY');
  });

  describe('read-only queries', () => {
    // query() appends FORMAT, which makes SET and SYSTEM fail to parse before the
    // read-only check; every other write is refused by the read-only connection.
    const refused: [string, string][] = [
      ["INSERT INTO sessions (org_id) VALUES ('x')", 'STORE_READONLY'],
      ["INSERT INTO sessions (org_id) SELECT 'x'", 'STORE_READONLY'],
      ['CREATE TABLE connlog.evil (a UInt8) ENGINE = Memory', 'STORE_READONLY'],
      ['DROP TABLE connlog.admin_actions', 'STORE_READONLY'],
      ['ALTER TABLE sessions DELETE WHERE 1', 'STORE_READONLY'],
      ['ALTER TABLE sessions UPDATE retention_days = 0 WHERE 1', 'STORE_READONLY'],
      ['TRUNCATE TABLE sessions', 'STORE_READONLY'],
      ['OPTIMIZE TABLE sessions FINAL', 'STORE_READONLY'],
      ['SYSTEM STOP MERGES', 'STORE_SYNTAX'],
      ['SET readonly = 0', 'STORE_SYNTAX'],
      ['SELECT 1 SETTINGS readonly = 0', 'STORE_READONLY'],
      ['SELECT count() FROM sessions SETTINGS readonly = 0;', 'STORE_READONLY'],
      ['SELECT 1 SETTINGS max_threads = 1', 'STORE_READONLY'],
      // chDB runs every statement of a multi-statement text: the connection itself
      // must be read-only, a SETTINGS clause on the last statement would not help.
      ['DROP TABLE connlog.admin_actions; SELECT 1', 'STORE_READONLY'],
    ];
    for (const [sql, expected] of refused) {
      it(`refuses: ${sql}`, async () => {
        expect(await codeOf(store.query(sql, {}, { readonly: true }))).toBe(expected);
        // chDB streams only SELECT-like statements, so writes fail even earlier there.
        const streamed = await codeOf(
          collect(store.queryStream(sql, {}, 'CSV', { readonly: true })),
        );
        expect(['STORE_READONLY', 'STORE_SYNTAX', 'STORE_QUERY']).toContain(streamed);
      });
    }

    it('left every table and row in place, and reads still work', async () => {
      const tables = await store.query<{ n: number }>(
        "SELECT count() AS n FROM system.tables WHERE database = 'connlog'",
        {},
        { readonly: true },
      );
      expect(tables[0]?.n).toBe(5);
      const rows = await store.query<{ n: number }>(
        'SELECT count() AS n FROM network_logs WHERE org_id = {org:String}',
        { org: 'view' },
        { readonly: true },
      );
      expect(rows[0]?.n).toBe(1);
      const streamed = await collect(
        store.queryStream("SELECT count() FROM sessions WHERE org_id = ''", {}, 'CSV', {
          readonly: true,
        }),
      );
      expect(streamed).toBe('0\n');
    });
  });

  it('inserts admin actions with the default retention', async () => {
    await store.insertAdminActions([
      {
        timestamp: Date.UTC(2030, 0, 1),
        org_id: 'acme',
        action: 'retention.update',
        actor_type: 'api_key',
        actor: 'ops key',
        actor_id: 'k1',
        outcome: 'success',
        metadata: '{"days":90}',
      },
    ]);
    const rows = await store.query('SELECT action, retention_days FROM admin_actions');
    expect(rows).toEqual([{ action: 'retention.update', retention_days: 365 }]);
  });

  it('is closed for good after close()', async () => {
    const other = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
    await other.migrate();
    await other.close();
    await other.close();
    expect(await codeOf(other.query('SELECT 1'))).toBe('STORE_CLOSED');
  });
});
