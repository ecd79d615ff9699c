import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorError } from '../../src/errors.js';
import { bootstrapStatements, migrations } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { sessionRow } from './rows.js';

/**
 * What every storage engine must do, run against each of them: the embedded engine
 * (store_chdb.test.ts) and a ClickHouse server over HTTP (store_http.test.ts). The
 * engines share their SQL, so they must answer alike; where a server differs by
 * design, the case says so.
 */
export interface StoreEngine {
  kind: Store['kind'];
  /** Runs before the store is opened (start a server). */
  start?(): Promise<void>;
  /** A store on the engine; called once for the suite and again for the close test. */
  open(): Store;
  /** Runs after the suite's store is closed. */
  stop?(): Promise<void>;
}

export async function collect(iterable: AsyncIterable<Uint8Array>): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of iterable) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

/** The CollectorError code a promise rejects with ('resolved' when it does not). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof CollectorError ? err.code : `not a CollectorError: ${String(err)}`;
  }
  return 'resolved';
}

/** Statements a read-only query must refuse, and the code each engine gives. */
function readonlyRefusals(kind: Store['kind']): [string, string][] {
  return [
    ["INSERT INTO sessions (org_id) VALUES ('x')", 'STORE_READONLY'],
    ["INSERT INTO sessions (org_id) SELECT 'x'", 'STORE_READONLY'],
    ['CREATE TABLE connlog.evil (a UInt8) ENGINE = Memory', 'STORE_READONLY'],
    ['DROP TABLE connlog.admin_actions', 'STORE_READONLY'],
    ['ALTER TABLE sessions DELETE WHERE 1', 'STORE_READONLY'],
    ['ALTER TABLE sessions UPDATE retention_days = 0 WHERE 1', 'STORE_READONLY'],
    ['TRUNCATE TABLE sessions', 'STORE_READONLY'],
    ['OPTIMIZE TABLE sessions FINAL', 'STORE_READONLY'],
    // query() appends FORMAT, which makes SET and SYSTEM fail to parse before the
    // read-only check.
    ['SYSTEM STOP MERGES', 'STORE_SYNTAX'],
    ['SET readonly = 0', 'STORE_SYNTAX'],
    ['SELECT 1 SETTINGS readonly = 0', 'STORE_READONLY'],
    ['SELECT count() FROM sessions SETTINGS readonly = 0;', 'STORE_READONLY'],
    ['SELECT 1 SETTINGS max_threads = 1', 'STORE_READONLY'],
    // chDB runs every statement of a multi-statement text, so its read-only
    // connection must refuse the DROP; a server refuses two statements outright.
    [
      'DROP TABLE connlog.admin_actions; SELECT 1',
      kind === 'embedded' ? 'STORE_READONLY' : 'STORE_SYNTAX',
    ],
  ];
}

export function describeStoreContract(name: string, engine: StoreEngine): void {
  let store: Store;

  beforeAll(async () => {
    await engine.start?.();
    store = engine.open();
    await store.migrate();
  });

  afterAll(async () => {
    await store.close();
    await engine.stop?.();
  });

  describe(name, () => {
    it('is the engine it claims to be', () => {
      expect(store.kind).toBe(engine.kind);
      expect(store.database).toBe('connlog');
    });

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

    it('keeps 64-bit counters and awkward text intact', async () => {
      const row = sessionRow({
        org_id: 'values',
        bytes_tx: 2 ** 40 + 1,
        bytes_rx: Number.MAX_SAFE_INTEGER,
        user_id: 'zoë "q" \\ \' \t\n;',
        error: 'a\r\nb',
      });
      await store.insertSessions([row]);
      const rows = await store.query<{ bytes_tx: number; bytes_rx: number; user_id: string }>(
        'SELECT bytes_tx, bytes_rx, user_id FROM sessions WHERE org_id = {org:String} AND user_id = {user:String}',
        { org: 'values', user: row.user_id },
        { readonly: true },
      );
      expect(rows).toEqual([
        { bytes_tx: row.bytes_tx, bytes_rx: row.bytes_rx, user_id: row.user_id },
      ]);
      const ids = await store.query<{ n: number }>(
        'SELECT count() AS n FROM sessions WHERE has({ids:Array(String)}, toString(session_id))',
        { ids: [row.session_id, "it's"] },
      );
      expect(ids).toEqual([{ n: 1 }]);
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
      // An insert without a token right after one with a token is not taken for a replay.
      await store.insertSessions([sessionRow({ org_id: 'dedup' })]);
      const after = await store.query<{ n: number }>(
        "SELECT count() AS n FROM sessions WHERE org_id = 'dedup'",
      );
      expect(after[0]?.n).toBe(5);
    });

    it('inserts a payload built message by message, like insertSessions', async () => {
      const payload = store.newSessionPayload();
      payload.append([sessionRow({ org_id: 'payload' }), sessionRow({ org_id: 'payload' })]);
      payload.append([]);
      payload.append([sessionRow({ org_id: 'payload', user_id: 'zoë', version: 2 })]);
      expect(payload.rowCount).toBe(3);
      await store.insertSessionPayload(payload, { dedupToken: 'payload-1' });
      await store.insertSessionPayload(payload, { dedupToken: 'payload-1' });
      const rows = await store.query<{ user_id: string; version: number }>(
        "SELECT user_id, version FROM sessions WHERE org_id = 'payload' ORDER BY version",
      );
      expect(rows).toEqual([
        { user_id: '', version: 1 },
        { user_id: '', version: 1 },
        { user_id: 'zoë', version: 2 },
      ]);
      const foreign = { rowCount: 1, append: () => undefined };
      expect(await codeOf(store.insertSessionPayload(foreign))).toBe('STORE_INSERT');
    });

    it('streams results in the requested format, several at once', async () => {
      const csv = await collect(
        store.queryStream('SELECT number FROM numbers({n:UInt32})', { n: 3 }, 'CSV'),
      );
      expect(csv).toBe('0\n1\n2\n');
      const first = collect(store.queryStream('SELECT number FROM numbers(200000)', {}, 'CSV'));
      const second = collect(store.queryStream('SELECT 7 AS x', {}, 'JSONEachRow'));
      const plain = store.query<{ y: number }>('SELECT {x:UInt8} + 1 AS y', { x: 1 });
      const [a, b, c] = await Promise.all([first, second, plain]);
      expect(a.split('\n').length).toBe(200001);
      expect(b).toBe('{"x":7}\n');
      expect(c).toEqual([{ y: 2 }]);
    });

    it('streams stored rows read-only, as CSV and as JSONEachRow', async () => {
      const sql =
        'SELECT session_id, bytes_tx FROM network_logs WHERE org_id = {org:String} ORDER BY session_id';
      const expected = await store.query<{ session_id: string; bytes_tx: number }>(sql, {
        org: 'addr',
      });
      expect(expected).toHaveLength(2);
      const options = { readonly: true };
      const csv = await collect(store.queryStream(sql, { org: 'addr' }, 'CSV', options));
      expect(csv).toBe(expected.map((row) => `"${row.session_id}",${row.bytes_tx}\n`).join(''));
      const json = await collect(store.queryStream(sql, { org: 'addr' }, 'JSONEachRow', options));
      expect(json).toBe(expected.map((row) => `${JSON.stringify(row)}\n`).join(''));
    });

    it('streams a bulk read (the CSV export) like any read-only stream, beside one', async () => {
      const sql =
        'SELECT session_id, bytes_tx FROM network_logs WHERE org_id = {org:String} ORDER BY session_id';
      const bulk = { readonly: true, bulk: true };
      const [plain, viaBulk] = await Promise.all([
        collect(store.queryStream(sql, { org: 'addr' }, 'CSV', { readonly: true })),
        collect(store.queryStream(sql, { org: 'addr' }, 'CSV', bulk)),
      ]);
      expect(plain.split('\n')).toHaveLength(3);
      expect(viaBulk).toBe(plain);
      // Back to back, as an export's slices run.
      expect(await collect(store.queryStream(sql, { org: 'addr' }, 'CSV', bulk))).toBe(plain);
      const write = await codeOf(
        collect(store.queryStream('INSERT INTO sessions (org_id) VALUES (1)', {}, 'CSV', bulk)),
      );
      expect(['STORE_READONLY', 'STORE_SYNTAX', 'STORE_QUERY']).toContain(write);
      expect(() => store.queryStream('SELECT 1', {}, 'CSV', { bulk: true })).toThrow(
        /bulk stream must be read-only/,
      );
    });

    it('stops a stream early and frees its slot', async () => {
      for await (const chunk of store.queryStream(
        'SELECT number FROM numbers(5000000)',
        {},
        'CSV',
      )) {
        expect(chunk.length).toBeGreaterThan(0);
        break;
      }
      const next = await collect(store.queryStream('SELECT 1 AS one', {}, 'CSV'));
      expect(next).toBe('1\n');
    });

    it('cancels a stream when its signal aborts', async () => {
      const controller = new AbortController();
      const stream = store.queryStream('SELECT number FROM numbers(100000000)', {}, 'CSV', {
        signal: controller.signal,
      });
      let chunks = 0;
      const code = await codeOf(
        (async () => {
          for await (const chunk of stream) {
            expect(chunk.length).toBeGreaterThan(0);
            chunks += 1;
            if (chunks === 1) controller.abort();
          }
        })(),
      );
      expect(code).toBe('STORE_ABORTED');
      expect(await store.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });

    it('cancels a query whose result is on its way when its signal aborts', async () => {
      const controller = new AbortController();
      // Big enough that the result is still arriving when the abort comes, small
      // enough that an engine finishing it in the background costs little.
      const pending = store.query(
        'SELECT number FROM numbers(3000000)',
        {},
        {
          signal: controller.signal,
        },
      );
      setTimeout(() => {
        controller.abort();
      }, 20);
      expect(await codeOf(pending)).toBe('STORE_ABORTED');
      expect(await store.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });

    it('fails a stream that breaks after its first rows, never ends it short', async () => {
      let bytes = 0;
      const code = await codeOf(
        (async () => {
          for await (const chunk of store.queryStream(
            "SELECT throwIf(number = 1000000, 'broken on purpose') FROM numbers(2000000)",
            {},
            'CSV',
            { readonly: true },
          )) {
            bytes += chunk.length;
          }
        })(),
      );
      expect(code).toBe('STORE_QUERY');
      expect(bytes).toBeLessThan(2 * 2_000_000);
    });

    it('accepts trailing semicolons and comments, refuses a FORMAT clause', async () => {
      expect(await store.query('SELECT 1 AS a;  \n')).toEqual([{ a: 1 }]);
      expect(await store.query('SELECT 1 AS a -- why not', {}, { readonly: true })).toEqual([
        { a: 1 },
      ]);
      expect(await codeOf(store.query('SELECT 1 FORMAT CSV'))).toBe('STORE_SYNTAX');
      expect(await codeOf(store.query('SELECT * FROM no_such_table'))).toBe('STORE_QUERY');
    });

    it('runs statements through exec, with parameters', async () => {
      await store.exec('CREATE TABLE IF NOT EXISTS connlog.scratch (a UInt32) ENGINE = Memory');
      await store.exec('INSERT INTO connlog.scratch VALUES ({a:UInt32})', { a: 41 });
      expect(await store.query('SELECT a + 1 AS b FROM connlog.scratch')).toEqual([{ b: 42 }]);
      await store.exec('DROP TABLE connlog.scratch');
      expect(await codeOf(store.exec('DROP TABLE connlog.scratch'))).toBe('STORE_QUERY');
    });

    describe('read-only queries', () => {
      for (const [sql, expected] of readonlyRefusals(engine.kind)) {
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
        const evil = await store.query<{ n: number }>(
          "SELECT count() AS n FROM sessions WHERE org_id = 'x'",
        );
        expect(evil[0]?.n).toBe(0);
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

    it('inserts recording gaps, dropping a replay with the same token', async () => {
      const gap = {
        org_id: 'acme',
        site_id: 'berlin',
        agent_id: 'agent-1',
        from_at: Date.UTC(2030, 0, 1, 12, 0, 0),
        to_at: Date.UTC(2030, 0, 1, 12, 5, 0),
        sessions_not_recorded: 17,
        reason: 'spool_full',
        retention_days: 30,
      };
      await store.insertGaps([gap], { dedupToken: 'gap-1' });
      await store.insertGaps([gap], { dedupToken: 'gap-1' });
      const rows = await store.query(
        `SELECT agent_id, sessions_not_recorded, reason,
                toUnixTimestamp64Milli(from_at) AS from_ms, toUnixTimestamp64Milli(to_at) AS to_ms
         FROM recording_gaps`,
      );
      expect(rows).toEqual([
        {
          agent_id: 'agent-1',
          sessions_not_recorded: 17,
          reason: 'spool_full',
          from_ms: gap.from_at,
          to_ms: gap.to_at,
        },
      ]);
    });

    it('is closed for good after close()', async () => {
      const other = engine.open();
      await other.migrate();
      await other.close();
      await other.close();
      expect(await codeOf(other.query('SELECT 1'))).toBe('STORE_CLOSED');
    });
  });
}
