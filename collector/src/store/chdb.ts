/**
 * Embedded engine: ClickHouse in-process through chDB, data in `<dataDir>/clickhouse`.
 *
 * chDB facts that shape this file (checked against chdb 3.4 / ClickHouse 26.x):
 * - one process binds one data directory, but may open several connections to it;
 *   each connection keeps its own settings and query state;
 * - a connection runs one stream at a time, and any other query on that connection
 *   kills its stream — so streams get connections of their own, one stream each;
 * - a connection opened with `--readonly=1` refuses INSERT, DDL, SYSTEM, SET and
 *   SETTINGS clauses. Appending `SETTINGS readonly=1` to a statement is NOT enough:
 *   chDB runs every statement of a multi-statement text, so `DROP TABLE t; SELECT 1
 *   SETTINGS readonly=1` drops the table. Read-only work therefore runs on read-only
 *   connections, and no text rewriting is trusted for safety;
 * - parameter binding is process-global state inside the engine: chDB serializes its
 *   own bound queries, and we keep bound stream starts out of their way.
 *
 * chdb is imported lazily, so nothing loads ClickHouse unless this engine is used.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Session } from 'chdb';
import { CollectorError } from '../errors.js';
import { translateEngineError } from './engine_error.js';
import { runMigrations } from './migrate.js';
import { assertIdentifier } from './schema.js';
import { Mutex } from './mutex.js';
import { CompactTextPayload, RowBinaryPayload, foreignPayload } from './payload.js';
import { SESSION_INSERT_COLUMNS, toJsonEachRow } from './rows.js';
import { SESSIONS_ROW_BINARY_STRUCTURE } from './row_binary.js';
import {
  assertBulkReadonly,
  assertFormat,
  parseJsonEachRow,
  sqlString,
  withFormat,
} from './sql.js';
import { openInsertStaging, usableStagingDir, type InsertStaging } from './staging.js';
import type {
  AdminActionRow,
  GapRow,
  InsertOptions,
  QueryOptions,
  SessionPayload,
  SessionRow,
  Store,
} from './store.js';

export interface ChdbStoreOptions {
  /** The collector's data dir; the engine's files go to `<dataDir>/clickhouse`. */
  dataDir: string;
  /** @default "connlog" */
  database: string;
  log: Logger;
  /**
   * Streams waiting for a stream connection beyond this are refused (STORE_BUSY).
   * @default 64
   */
  maxStreamWaiters?: number;
  /**
   * How session rows reach the engine: `rowbinary` stages each INSERT's rows as a
   * RowBinary file the engine reads (staging.ts); `text` sends JSONCompactEachRow
   * through chDB's insert API. `rowbinary` falls back to `text` when the staging
   * directory's path cannot be named in `file()` (glob characters, quotes).
   * @default "rowbinary"
   */
  sessionInsertFormat?: 'rowbinary' | 'text';
  /** Where RowBinary batches are staged. @default "<dataDir>/clickhouse-staging" */
  stagingDir?: string;
}

/** Settings every connection starts with. */
const COMMON_ARGS = [
  // Every version of a session shares started_at, hence its day partition, so FINAL
  // never needs to merge across partitions.
  '--do_not_merge_across_partitions_select_final=1',
  // Same JSON as a ClickHouse server configured by us: UInt64 as numbers.
  '--output_format_json_quote_64bit_integers=0',
];
const READONLY_ARGS = [...COMMON_ARGS, '--readonly=1'];
/**
 * Stream connections (CSV export, streamed SQL) run in the collector's own memory, so
 * a stream's memory must not grow with its result. `FINAL … ORDER BY started_at DESC`
 * (every export) cannot read in order and sorts its whole result: measured +670 MiB of
 * RSS for 400k rows. Spilling the sort to disk past 32 MiB and emitting small blocks
 * keeps it at ~10-20 MiB and is no slower (bench/api.mjs, docs/benchmarks.md).
 * Blocks of 2,048 rows rather than 8,192: the process RSS also grows with memory the
 * engine's allocator (its own jemalloc, configured by `JE_MALLOC_CONF`, not
 * `MALLOC_CONF`) keeps after each block, and smaller blocks cut that first-export growth
 * by about a quarter (+141 → +104 MiB for 2 M rows) at no measurable cost in rows/s.
 * A query's own peak grows with the rows it reads (~75 MiB for 357k rows under FINAL and
 * ORDER BY), which is why the export cuts large days into slices (export_windows.ts).
 */
const STREAM_ARGS = ['--max_bytes_before_external_sort=33554432', '--max_block_size=2048'];
/**
 * Bulk streams (the CSV export, `QueryOptions.bulk`) run on a read-only connection of
 * their own with one thread: each thread reads and sorts with buffers of its own, and
 * the CSV cells are rendered after the final merge of the sort, on one thread either
 * way, so one thread measured as fast as two, with less peak RSS (docs/benchmarks.md
 * item 16).
 *
 * They are planned by the engine's previous query analyzer: chDB starts a stream with a
 * blocking call, so the planning of each export slice's ~5,900-character CSV expression
 * runs on the collector's event loop, and that analyzer plans it in about half the time
 * (21 vs 38 ms per slice) with byte-identical output (docs/benchmarks.md item 18). Only
 * the export's own SQL runs here; user SQL keeps the default analyzer.
 */
const BULK_ARGS = [...READONLY_ARGS, ...STREAM_ARGS, '--max_threads=1', '--enable_analyzer=0'];

interface Connections {
  /** Inserts, DDL, internal queries. */
  rw: Session;
  /** Read-only queries (user SQL). */
  ro: Session;
  rwStream: Session;
  roStream: Session;
  /** Bulk reads (the CSV export). */
  bulkStream: Session;
}

export function createChdbStore(options: ChdbStoreOptions): Store {
  const { database, log } = options;
  assertIdentifier(database, 'clickhouse.database');
  const path = join(options.dataDir, 'clickhouse');
  const maxWaiters = options.maxStreamWaiters ?? 64;
  const rwStreamLock = new Mutex('stream (read-write)', maxWaiters);
  const roStreamLock = new Mutex('stream (read-only)', maxWaiters);
  const bulkStreamLock = new Mutex('stream (bulk)', maxWaiters);
  // Starting a bound stream sets the engine's process-global parameter state, as do
  // bound queries; this gate keeps the two from overlapping.
  const paramGate = new Mutex('parameter binding');
  const stagingDir = options.stagingDir ?? join(options.dataDir, 'clickhouse-staging');
  // Decided here, not at open: payloads are made (and encoded) before the first insert.
  const binary =
    (options.sessionInsertFormat ?? 'rowbinary') === 'rowbinary' && usableStagingDir(stagingDir);
  let staging: InsertStaging | undefined;
  let opening: Promise<Connections> | undefined;
  let closed = false;
  const sessions: Session[] = [];

  const open = (): Promise<Connections> => {
    if (closed) return Promise.reject(new CollectorError('STORE_CLOSED', 'store is closed'));
    opening ??= (async () => {
      let chdb: typeof import('chdb');
      try {
        chdb = await import('chdb');
      } catch (err) {
        throw new CollectorError('STORE_OPEN', 'cannot load the embedded engine (chdb)', {
          cause: err,
        });
      }
      try {
        mkdirSync(path, { recursive: true });
        const connect = (args: readonly string[]): Session => {
          const session = new chdb.Session(path, { connectionArgs: args });
          sessions.push(session);
          return session;
        };
        // The database is the default of every connection, so SQL may name connlog
        // tables unqualified on both engines (the HTTP client sets it per request).
        // `--database` only counts for the first connection of a process, so each
        // connection switches with USE (allowed in read-only mode) once it exists.
        const rw = connect(COMMON_ARGS);
        await rw.queryAsync(`CREATE DATABASE IF NOT EXISTS ${database}`);
        const conns = {
          rw,
          ro: connect(READONLY_ARGS),
          rwStream: connect([...COMMON_ARGS, ...STREAM_ARGS]),
          roStream: connect([...READONLY_ARGS, ...STREAM_ARGS]),
          bulkStream: connect(BULK_ARGS),
        };
        for (const session of sessions) await session.queryAsync(`USE ${database}`);
        if (binary) {
          staging = openInsertStaging(stagingDir);
        } else if (options.sessionInsertFormat !== 'text') {
          log.warn(
            { stagingDir },
            'session inserts go as text: file() cannot name this staging path (glob characters, quotes or backslashes)',
          );
        }
        log.info(
          {
            path,
            version: chdb.version().libchdb,
            sessionInsertFormat: staging ? 'rowbinary' : 'text',
            ...(staging ? { stagingDir: staging.dir } : {}),
          },
          'embedded ClickHouse opened',
        );
        return conns;
      } catch (err) {
        for (const session of sessions.splice(0)) session.close();
        throw new CollectorError('STORE_OPEN', `cannot open the embedded engine in ${path}`, {
          cause: err,
        });
      }
    })();
    return opening;
  };

  /**
   * Hand the pages the engine's allocator keeps after a bulk stream back to the OS.
   * That allocator (jemalloc inside libchdb.so) returns freed pages only after a 5 s
   * decay and only on allocation activity, so an export's back-to-back queries stacked
   * their freed pages: the collector's RSS grew ~60 MiB more than one query needs.
   * Best effort: a failure costs memory, not the export.
   */
  const releaseFreedMemory = async (rw: Session): Promise<void> => {
    try {
      await rw.queryAsync('SYSTEM JEMALLOC PURGE');
    } catch (err) {
      log.debug({ err }, 'SYSTEM JEMALLOC PURGE failed');
    }
  };

  /** Bound queries go through the gate; plain ones run in parallel. */
  const run = async (
    session: Session,
    sql: string,
    params: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<string> => {
    const opts = signal ? { format: 'JSONEachRow', signal } : { format: 'JSONEachRow' };
    if (params === undefined || Object.keys(params).length === 0) {
      return (await session.queryAsync(sql, opts)).text();
    }
    return paramGate.run(async () => (await session.queryBindAsync(sql, params, opts)).text());
  };

  const insert = async (
    table: string,
    payload: string,
    rowCount: number,
    insertOptions: InsertOptions | undefined,
    format: { name: 'JSONEachRow' } | { name: 'JSONCompactEachRow'; columns: string[] } = {
      name: 'JSONEachRow',
    },
  ): Promise<void> => {
    if (rowCount === 0) return;
    const conns = await open();
    const settings: Record<string, string> = {};
    if (insertOptions?.dedupToken !== undefined) {
      settings.insert_deduplication_token = insertOptions.dedupToken;
    }
    try {
      await conns.rw.insert({
        table: `${database}.${table}`,
        values: Buffer.from(payload),
        format: format.name,
        ...(format.name === 'JSONCompactEachRow' ? { columns: format.columns } : {}),
        settings,
      });
    } catch (err) {
      throw translateEngineError(err, `insert into ${table}`, 'STORE_INSERT');
    }
  };

  /**
   * Session rows as a staged RowBinary file: the engine reads the file instead of
   * parsing JSON text (~4x faster to parse, docs/benchmarks.md). The INSERT names its
   * columns like the text path, so DEFAULTs and ALIASes behave the same.
   */
  const insertRowBinary = async (
    payload: RowBinaryPayload,
    insertOptions: InsertOptions | undefined,
  ): Promise<void> => {
    if (payload.rowCount === 0) return;
    const conns = await open();
    if (staging === undefined) throw new CollectorError('STORE_INSERT', 'no staging directory');
    const settings =
      insertOptions?.dedupToken === undefined
        ? ''
        : ` SETTINGS insert_deduplication_token = ${sqlString(insertOptions.dedupToken)}`;
    try {
      await staging.withFile(payload.chunks, (file) =>
        conns.rw.queryAsync(
          `INSERT INTO ${database}.sessions (${SESSION_INSERT_COLUMNS.join(', ')})${settings} ` +
            `SELECT * FROM file(${sqlString(file)}, 'RowBinary', ${sqlString(SESSIONS_ROW_BINARY_STRUCTURE)})`,
        ),
      );
    } catch (err) {
      throw translateEngineError(err, 'insert into sessions', 'STORE_INSERT');
    }
  };

  const insertCompactText = (
    payload: CompactTextPayload,
    insertOptions: InsertOptions | undefined,
  ): Promise<void> =>
    insert('sessions', payload.chunks.join(''), payload.rowCount, insertOptions, {
      name: 'JSONCompactEachRow',
      columns: [...SESSION_INSERT_COLUMNS],
    });

  const newSessionPayload = (): RowBinaryPayload | CompactTextPayload =>
    binary ? new RowBinaryPayload() : new CompactTextPayload();

  const store: Store = {
    kind: 'embedded',
    database,

    async migrate() {
      const conns = await open();
      await runMigrations(
        { database, log },
        {
          exec: async (sql, params) => {
            await run(conns.rw, sql, params);
          },
          query: async (sql) =>
            parseJsonEachRow(await run(conns.rw, withFormat(sql, 'JSONEachRow'), undefined)),
        },
      );
    },

    insertSessions(rows: readonly SessionRow[], insertOptions?: InsertOptions) {
      const payload = newSessionPayload();
      payload.append(rows);
      return store.insertSessionPayload(payload, insertOptions);
    },

    newSessionPayload,

    insertSessionPayload(payload: SessionPayload, insertOptions?: InsertOptions) {
      if (binary && payload instanceof RowBinaryPayload) {
        return insertRowBinary(payload, insertOptions);
      }
      if (!binary && payload instanceof CompactTextPayload) {
        return insertCompactText(payload, insertOptions);
      }
      return Promise.reject(foreignPayload('embedded'));
    },

    insertGaps(rows: readonly GapRow[], insertOptions?: InsertOptions) {
      return insert('recording_gaps', toJsonEachRow(rows), rows.length, insertOptions);
    },

    insertAdminActions(rows: readonly AdminActionRow[], insertOptions?: InsertOptions) {
      return insert('admin_actions', toJsonEachRow(rows), rows.length, insertOptions);
    },

    async query<T = Record<string, unknown>>(
      sql: string,
      params?: Record<string, unknown>,
      queryOptions?: QueryOptions,
    ): Promise<T[]> {
      const conns = await open();
      const session = queryOptions?.readonly === true ? conns.ro : conns.rw;
      try {
        const text = await run(
          session,
          withFormat(sql, 'JSONEachRow'),
          params,
          queryOptions?.signal,
        );
        return parseJsonEachRow<T>(text);
      } catch (err) {
        throw translateEngineError(err, 'query failed');
      }
    },

    queryStream(
      sql: string,
      params: Record<string, unknown>,
      format: string,
      queryOptions?: QueryOptions,
    ): AsyncIterable<Uint8Array> {
      assertFormat(format);
      assertBulkReadonly(queryOptions);
      const readonly = queryOptions?.readonly === true;
      const bulk = queryOptions?.bulk === true;
      const signal = queryOptions?.signal;
      return {
        async *[Symbol.asyncIterator]() {
          const conns = await open();
          const [session, lock] = bulk
            ? [conns.bulkStream, bulkStreamLock]
            : readonly
              ? [conns.roStream, roStreamLock]
              : [conns.rwStream, rwStreamLock];
          const release = await lock.acquire(signal);
          try {
            const text = withFormat(sql, format);
            const streamOptions = signal ? { format, signal } : { format };
            const stream = await paramGate.run(() =>
              Object.keys(params).length === 0
                ? session.queryStream(text, streamOptions)
                : session.queryStreamBind(text, params, streamOptions),
            );
            for await (const chunk of stream) yield chunk.raw();
          } catch (err) {
            throw translateEngineError(err, 'query failed');
          } finally {
            if (bulk) await releaseFreedMemory(conns.rw);
            release();
          }
        },
      };
    },

    async exec(sql: string, params?: Record<string, unknown>): Promise<void> {
      const conns = await open();
      try {
        await run(conns.rw, sql, params);
      } catch (err) {
        throw translateEngineError(err, 'statement failed');
      }
    },

    close() {
      if (closed) return Promise.resolve();
      closed = true;
      // close() is idempotent and defers native teardown behind running operations.
      for (const session of sessions.splice(0)) session.close();
      return Promise.resolve();
    },
  };
  return store;
}
