/**
 * ClickHouse server (or cluster) over HTTP(S) with `@clickhouse/client`. The client
 * is imported lazily like chDB, so the embedded default never loads it.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { CollectorError } from '../errors.js';
import { translateEngineError } from './engine_error.js';
import { runMigrations } from './migrate.js';
import { RowsPayload, foreignPayload } from './payload.js';
import { sessionRowsForInsert } from './rows.js';
import { assertIdentifier, bootstrapStatements } from './schema.js';
import { assertBulkReadonly, assertFormat, withFormat } from './sql.js';
import type {
  AdminActionRow,
  GapRow,
  InsertOptions,
  QueryOptions,
  SessionPayload,
  SessionRow,
  Store,
} from './store.js';

export interface HttpStoreOptions {
  url: string;
  username: string;
  password: string;
  /** @default "connlog" */
  database: string;
  /** Run DDL `ON CLUSTER` and insert through Distributed tables. */
  cluster?: string;
  log: Logger;
  /** For tests: a client built elsewhere. */
  createClient?: (
    config: Parameters<typeof import('@clickhouse/client').createClient>[0],
  ) => ClickHouseClient;
}

/** `ClickHouseLogLevel.OFF`, spelled out so the client stays a lazy import. */
const ClickHouseLogLevelOff = 127 as const;

/** Settings on every request, so results look the same as from the embedded engine. */
const COMMON_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  do_not_merge_across_partitions_select_final: 1,
};

/**
 * `readonly` comes last: the server checks the other settings of the request before
 * read-only mode takes effect, and read-only then refuses writes, DDL and any further
 * setting change (a SETTINGS clause in the statement).
 */
function settingsFor(options: QueryOptions | undefined): ClickHouseSettings {
  return options?.readonly === true ? { ...COMMON_SETTINGS, readonly: '1' } : COMMON_SETTINGS;
}

/** The error of a cancelled request, whatever the client made of it: an AbortError. */
function abortedError(signal: AbortSignal, err?: unknown): Error {
  const error = new Error('the query was cancelled', { cause: err ?? signal.reason });
  error.name = 'AbortError';
  return error;
}

export function createHttpStore(options: HttpStoreOptions): Store {
  const { database, cluster, log } = options;
  assertIdentifier(database, 'clickhouse.database');
  let client: Promise<ClickHouseClient> | undefined;
  let closed = false;

  /** A client whose requests name `db` (the client leaves out `default`). */
  const newClient = async (db: string): Promise<ClickHouseClient> => {
    const config = {
      url: options.url,
      username: options.username,
      password: options.password,
      database: db,
      application: 'connlog-collector',
      // The client would print every failed query to the console; we translate and
      // log errors ourselves (user SQL errors are answers, not collector problems).
      log: { level: ClickHouseLogLevelOff },
    };
    if (options.createClient) return options.createClient(config);
    try {
      const { createClient } = await import('@clickhouse/client');
      return createClient(config);
    } catch (err) {
      throw new CollectorError('STORE_OPEN', 'cannot create the ClickHouse client', {
        cause: err,
      });
    }
  };

  const connect = (): Promise<ClickHouseClient> => {
    if (closed) return Promise.reject(new CollectorError('STORE_CLOSED', 'store is closed'));
    client ??= newClient(database);
    return client;
  };

  /**
   * A server refuses any request that names a database it does not have (code 81),
   * and every request of the main client names ours: so the database is created
   * through a short-lived client on the server's default database.
   */
  const createDatabase = async (): Promise<void> => {
    if (closed) throw new CollectorError('STORE_CLOSED', 'store is closed');
    const [statement] = bootstrapStatements({
      database,
      ...(cluster !== undefined ? { cluster } : {}),
    });
    if (statement === undefined) return;
    const boot = await newClient('default');
    try {
      await boot.command({ query: statement, clickhouse_settings: COMMON_SETTINGS });
    } catch (err) {
      throw translateEngineError(err, `cannot create database ${database}`, 'STORE_MIGRATE');
    } finally {
      await boot.close();
    }
  };

  /** On a cluster an insert returns once every shard has its part, not when queued. */
  const insertSettings = (insertOptions: InsertOptions | undefined): ClickHouseSettings => {
    const settings: ClickHouseSettings = {};
    if (insertOptions?.dedupToken !== undefined) {
      settings.insert_deduplication_token = insertOptions.dedupToken;
    }
    if (cluster !== undefined) settings.distributed_foreground_insert = 1;
    return settings;
  };

  const insert = async (
    table: string,
    values: readonly object[],
    insertOptions: InsertOptions | undefined,
  ): Promise<void> => {
    if (values.length === 0) return;
    const ch = await connect();
    try {
      await ch.insert({
        table: `${database}.${table}`,
        values: [...values],
        format: 'JSONEachRow',
        clickhouse_settings: insertSettings(insertOptions),
      });
    } catch (err) {
      throw translateEngineError(err, `insert into ${table}`, 'STORE_INSERT');
    }
  };

  const exec = async (sql: string, params?: Record<string, unknown>): Promise<void> => {
    const ch = await connect();
    try {
      await ch.command({
        query: sql,
        ...(params ? { query_params: params } : {}),
        clickhouse_settings: COMMON_SETTINGS,
      });
    } catch (err) {
      throw translateEngineError(err, 'statement failed');
    }
  };

  const store: Store = {
    kind: 'http',
    database,

    async migrate() {
      await createDatabase();
      const ch = await connect();
      await runMigrations(
        { database, log, ...(cluster !== undefined ? { cluster } : {}) },
        {
          exec,
          query: async (sql) => {
            const result = await ch.query({ query: sql, format: 'JSONEachRow' });
            return result.json<Record<string, unknown>>();
          },
        },
      );
    },

    insertSessions(rows: readonly SessionRow[], insertOptions?: InsertOptions) {
      return insert('sessions', sessionRowsForInsert(rows), insertOptions);
    },

    newSessionPayload() {
      return new RowsPayload();
    },

    insertSessionPayload(payload: SessionPayload, insertOptions?: InsertOptions) {
      if (!(payload instanceof RowsPayload)) return Promise.reject(foreignPayload('HTTP'));
      return insert('sessions', payload.rows, insertOptions);
    },

    insertGaps(rows: readonly GapRow[], insertOptions?: InsertOptions) {
      return insert('recording_gaps', rows, insertOptions);
    },

    insertAdminActions(rows: readonly AdminActionRow[], insertOptions?: InsertOptions) {
      return insert('admin_actions', rows, insertOptions);
    },

    async query<T = Record<string, unknown>>(
      sql: string,
      params?: Record<string, unknown>,
      queryOptions?: QueryOptions,
    ): Promise<T[]> {
      const ch = await connect();
      const signal = queryOptions?.signal;
      let close: (() => void) | undefined;
      // As for streams: once the response has started, only closing it stops the read.
      const onAbort = (): void => close?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        signal?.throwIfAborted();
        // The client strips trailing semicolons and appends `FORMAT JSONEachRow` itself.
        const result = await ch.query({
          query: sql,
          format: 'JSONEachRow',
          ...(params ? { query_params: params } : {}),
          clickhouse_settings: settingsFor(queryOptions),
          ...(signal ? { abort_signal: signal } : {}),
        });
        close = () => {
          result.close();
        };
        if (signal?.aborted === true) close();
        return await result.json<T>();
      } catch (err) {
        throw translateEngineError(
          signal?.aborted === true ? abortedError(signal, err) : err,
          'query failed',
        );
      } finally {
        signal?.removeEventListener('abort', onAbort);
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
      const signal = queryOptions?.signal;
      return {
        async *[Symbol.asyncIterator]() {
          const ch = await connect();
          let stream: Readable | undefined;
          // The client's abort_signal only cancels a request whose response has not
          // started: once rows stream, the body goes on to its end unless destroyed.
          const onAbort = (): void => {
            if (signal) stream?.destroy(abortedError(signal));
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          try {
            signal?.throwIfAborted();
            // exec returns the raw response body: the bytes ClickHouse wrote in `format`.
            const result = await ch.exec({
              query: withFormat(sql, format),
              query_params: params,
              clickhouse_settings: settingsFor(queryOptions),
              ...(signal ? { abort_signal: signal } : {}),
            });
            stream = result.stream;
            if (signal?.aborted === true) onAbort();
            for await (const chunk of stream) yield chunk as Uint8Array;
            // A destroyed response can end the loop like a complete body: a cancelled
            // stream must never look like a whole result.
            signal?.throwIfAborted();
          } catch (err) {
            throw translateEngineError(
              signal?.aborted === true ? abortedError(signal, err) : err,
              'query failed',
            );
          } finally {
            signal?.removeEventListener('abort', onAbort);
            stream?.destroy();
          }
        },
      };
    },

    exec,

    async close() {
      if (closed) return;
      closed = true;
      const pending = client;
      client = undefined;
      if (pending) await (await pending.catch(() => undefined))?.close();
    },
  };
  return store;
}
