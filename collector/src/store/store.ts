/**
 * The one interface both storage engines implement: embedded chDB and a ClickHouse
 * server over HTTP. The SQL text is shared (see schema.ts and queries.ts); only the
 * transport differs.
 */

/** One row of `connlog.sessions`, as inserted (JSONEachRow-compatible values). */
export interface SessionRow {
  org_id: string;
  site_id: string;
  agent_id: string;
  resource_id: string;
  session_id: string;
  protocol: string;
  client_id: string;
  user_id: string;
  /** IPv6 text, IPv4 mapped (`::ffff:1.2.3.4`). */
  source_ip: string;
  source_port: number;
  dest_ip: string;
  dest_port: number;
  dest_host: string;
  /** Milliseconds since the epoch (DateTime64(3) accepts this). */
  started_at: number;
  /** `null` while the session is ongoing. */
  ended_at: number | null;
  duration_ms: number;
  bytes_tx: number;
  bytes_rx: number;
  packets_tx: number;
  packets_rx: number;
  close_reason: string;
  error: string;
  status: 'ongoing' | 'completed';
  retention_days: number;
  version: number;
}

/**
 * One row of `connlog.recording_gaps`: an agent proxied `sessions_not_recorded`
 * sessions between `from_at` and `to_at` without recording them (a bound was hit).
 */
export interface GapRow {
  org_id: string;
  site_id: string;
  agent_id: string;
  /** Milliseconds since the epoch: the first session not recorded. */
  from_at: number;
  /** Milliseconds since the epoch: when recording resumed. */
  to_at: number;
  sessions_not_recorded: number;
  /** Why: `spool_full` or `buffer_full` (the agent's words, bounded text). */
  reason: string;
  retention_days: number;
}

/** One row of `connlog.admin_actions`. */
export interface AdminActionRow {
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Empty for actions that are not about one org. */
  org_id: string;
  /** Dotted verb, e.g. `retention.update`, `api_key.create`, `sql.query`. */
  action: string;
  actor_type: 'user' | 'api_key' | 'cli';
  actor: string;
  actor_id: string;
  outcome: 'success' | 'denied' | 'error';
  /** A JSON object as text; never secrets. */
  metadata: string;
  /** Days to keep the row; the table's default (365) when omitted. */
  retention_days?: number;
}

export interface QueryOptions {
  /** Run with `readonly=1`: the engine refuses writes, DDL and setting changes. */
  readonly?: boolean;
  /** Cancels the query (the HTTP request, or the chDB stream between chunks). */
  signal?: AbortSignal;
  /**
   * A bulk read streamed to a client (the CSV export), for `queryStream`. The embedded
   * engine runs it in the collector's own memory, so it gets a connection of its own
   * tuned for a small footprint and quick planning (chdb.ts); a ClickHouse server
   * ignores it. Only for the collector's own SQL: that connection plans with the
   * engine's previous analyzer, so user SQL is never sent as a bulk read.
   */
  bulk?: boolean;
}

export interface InsertOptions {
  /**
   * Insert deduplication token: a replay of the same token is dropped by ClickHouse
   * (needs `non_replicated_deduplication_window` on single-node tables).
   */
  dedupToken?: string;
}

/**
 * Session rows already encoded for one engine's INSERT, appended message by message as
 * they arrive: a batch waiting for its INSERT then holds a few buffers instead of one
 * object per row, which the collector's GC paid for under load (docs/benchmarks.md).
 * Made by `Store.newSessionPayload()`, inserted by the same store.
 */
export interface SessionPayload {
  /** Rows appended so far. */
  readonly rowCount: number;
  /** Encode `rows` now; the caller need not keep them. */
  append(rows: readonly SessionRow[]): void;
}

export interface Store {
  /** Which engine: for /healthz and logs. */
  readonly kind: 'embedded' | 'http';
  /**
   * Database holding the connlog tables (`clickhouse.database`, default `connlog`).
   * It is also the default database of every query, so SQL may name tables unqualified.
   */
  readonly database: string;
  /** Create or upgrade the schema; idempotent. */
  migrate(): Promise<void>;
  /** Insert rows into `connlog.sessions` in one INSERT; resolves when ClickHouse accepted them. */
  insertSessions(rows: readonly SessionRow[], options?: InsertOptions): Promise<void>;
  /** An empty payload for `insertSessionPayload` (one per INSERT). */
  newSessionPayload(): SessionPayload;
  /**
   * Insert a payload made by this store's `newSessionPayload()` into `connlog.sessions`
   * in one INSERT; the same as `insertSessions` of its rows.
   */
  insertSessionPayload(payload: SessionPayload, options?: InsertOptions): Promise<void>;
  /** Insert rows into `connlog.recording_gaps` in one INSERT. */
  insertGaps(rows: readonly GapRow[], options?: InsertOptions): Promise<void>;
  /** Insert rows into `connlog.admin_actions` in one INSERT. */
  insertAdminActions(rows: readonly AdminActionRow[], options?: InsertOptions): Promise<void>;
  /**
   * Run a statement with `{name:Type}` parameters; JSONEachRow rows parsed. The store
   * appends `FORMAT JSONEachRow`, so the statement must not carry a FORMAT clause;
   * trailing semicolons are dropped. 64-bit integers come back as JSON numbers.
   */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: Record<string, unknown>,
    options?: QueryOptions,
  ): Promise<T[]>;
  /**
   * Run a statement and stream the raw result in `format` (CSV, JSONEachRow, ...). The
   * store appends `FORMAT <format>`. Streams are serialized per engine connection (chDB
   * runs one stream per connection); the returned iterable must be consumed or
   * `return()`ed (a `for await` with `break` does that) to free the slot.
   */
  queryStream(
    sql: string,
    params: Record<string, unknown>,
    format: string,
    options?: QueryOptions,
  ): AsyncIterable<Uint8Array>;
  /** Run a statement that returns nothing (DDL, ALTER); not for user input. */
  exec(sql: string, params?: Record<string, unknown>): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
