/**
 * The ClickHouse schema as versioned, idempotent migrations. The same SQL text serves
 * both engines (embedded chDB and a ClickHouse server); cluster mode only changes the
 * engines (Replicated*, a Distributed table in front) and adds `ON CLUSTER`.
 *
 * Every statement is idempotent (`IF NOT EXISTS`, `CREATE OR REPLACE VIEW`), so a
 * migration interrupted half-way, or run by two collectors at once, is safe to rerun.
 * Applied versions are recorded in `<database>.schema_migrations`.
 */

export interface SchemaOptions {
  /** Database holding every connlog table. @default "connlog" */
  database: string;
  /** Cluster name from the server's `remote_servers`; unset on a single node. */
  cluster?: string;
}

export interface Migration {
  /** Increases by one per migration; never reused, never edited once released. */
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/** Default retention of `admin_actions` rows, in days. */
export const ADMIN_ACTIONS_RETENTION_DAYS = 365;

/**
 * Insert deduplication on a non-replicated table only works when the table keeps the
 * last N insert tokens (default 0 = off). 1000 covers far more retries than a collector
 * makes of one batch. Replicated tables have their own window (on by default).
 */
const DEDUP_WINDOW = 1000;

/**
 * TTL merges run at most this often per partition (ClickHouse default is 4 h).
 * One hour keeps expired rows from lingering much past their retention.
 */
const TTL_MERGE_TIMEOUT_SECONDS = 3600;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Database and cluster names are spliced into DDL, so only plain identifiers pass. */
export function assertIdentifier(value: string, what: string): void {
  if (!IDENTIFIER.test(value)) {
    throw new RangeError(
      `${what} must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*), got "${value}"`,
    );
  }
}

/**
 * `ip:port` as analysts write it: IPv4-mapped addresses as plain IPv4 (`10.0.0.5:5432`),
 * IPv6 in brackets (`[2001:db8::1]:443`).
 */
export function addrExpression(ipColumn: string, portColumn: string): string {
  const text = `IPv6NumToString(${ipColumn})`;
  return (
    `if(startsWith(${text}, '::ffff:') AND isIPv4String(substring(${text}, 8)), ` +
    `concat(substring(${text}, 8), ':', toString(${portColumn})), ` +
    `concat('[', ${text}, ']:', toString(${portColumn})))`
  );
}

interface Names {
  db: string;
  onCluster: string;
  /** Table that holds the data: `sessions` on one node, `sessions_local` on a cluster. */
  local: (table: string) => string;
  engine: (kind: 'MergeTree' | 'ReplacingMergeTree', args: string) => string;
}

function names(options: SchemaOptions): Names {
  assertIdentifier(options.database, 'clickhouse.database');
  if (options.cluster !== undefined) assertIdentifier(options.cluster, 'clickhouse.cluster');
  const { database: db, cluster } = options;
  if (cluster === undefined) {
    return {
      db,
      onCluster: '',
      local: (table) => `${db}.${table}`,
      engine: (kind, args) => `${kind}(${args})`,
    };
  }
  return {
    db,
    onCluster: ` ON CLUSTER ${cluster}`,
    local: (table) => `${db}.${table}_local`,
    engine: (kind, args) => {
      const path = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`;
      return `Replicated${kind}(${args === '' ? path : `${path}, ${args}`})`;
    },
  };
}

/** Statements that must exist before migrations can be read: the database and the ledger. */
export function bootstrapStatements(options: SchemaOptions): string[] {
  const n = names(options);
  return [
    `CREATE DATABASE IF NOT EXISTS ${n.db}${n.onCluster}`,
    `CREATE TABLE IF NOT EXISTS ${n.db}.schema_migrations${n.onCluster}
(
    version UInt32 COMMENT 'Migration number, see collector/src/store/schema.ts',
    name String COMMENT 'Migration name',
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When this collector applied it'
)
ENGINE = ${n.engine('ReplacingMergeTree', '')}
ORDER BY version
COMMENT 'Schema versions applied by connlog-collector'`,
  ];
}

function sessionsTable(n: Names): string {
  return `CREATE TABLE IF NOT EXISTS ${n.local('sessions')}${n.onCluster}
(
    org_id LowCardinality(String) COMMENT 'Organisation (the <org> token of the NATS subject)',
    site_id LowCardinality(String) COMMENT 'Site whose agent proxied the session',
    agent_id LowCardinality(String) COMMENT 'Agent instance that recorded the session',
    resource_id LowCardinality(String) COMMENT 'Configured resource (listen address to target) the client reached',
    session_id UUID COMMENT 'Session id (UUIDv7 minted by the agent when it accepted the client)' CODEC(ZSTD(1)),
    protocol LowCardinality(String) COMMENT 'tcp or udp',
    client_id String COMMENT 'Client identity; empty when unknown' CODEC(ZSTD(1)),
    user_id String COMMENT 'User identity; empty when unknown' CODEC(ZSTD(1)),
    source_ip IPv6 COMMENT 'Client address; IPv4 stored IPv4-mapped (::ffff:a.b.c.d)' CODEC(ZSTD(1)),
    source_port UInt16 COMMENT 'Client port' CODEC(ZSTD(1)),
    dest_ip IPv6 COMMENT 'Target address the agent dialed; :: when the dial never resolved one' CODEC(ZSTD(1)),
    dest_port UInt16 COMMENT 'Target port' CODEC(ZSTD(1)),
    dest_host LowCardinality(String) COMMENT 'Target as configured on the resource (hostname or IP)',
    started_at DateTime64(3, 'UTC') COMMENT 'When the agent accepted the client connection (or first datagram)' CODEC(Delta, ZSTD(1)),
    ended_at Nullable(DateTime64(3, 'UTC')) COMMENT 'When the session closed; NULL while ongoing' CODEC(Delta, ZSTD(1)),
    duration_ms UInt64 COMMENT 'ended_at - started_at; for an ongoing session, up to its latest update' CODEC(T64, ZSTD(1)),
    bytes_tx UInt64 COMMENT 'Bytes sent by the client toward the target (client -> target), cumulative' CODEC(T64, ZSTD(1)),
    bytes_rx UInt64 COMMENT 'Bytes returned to the client (target -> client), cumulative' CODEC(T64, ZSTD(1)),
    packets_tx UInt64 COMMENT 'Datagrams client -> target, cumulative (UDP; 0 for TCP)' CODEC(T64, ZSTD(1)),
    packets_rx UInt64 COMMENT 'Datagrams target -> client, cumulative (UDP; 0 for TCP)' CODEC(T64, ZSTD(1)),
    close_reason LowCardinality(String) COMMENT 'client_closed, target_closed, idle_timeout, dial_failed, dial_timeout, reset, agent_shutdown, agent_restart, error; empty while ongoing',
    error String COMMENT 'Short error text (dial or I/O failure); empty when none' CODEC(ZSTD(1)),
    status LowCardinality(String) DEFAULT if(ended_at IS NULL, 'ongoing', 'completed') COMMENT 'ongoing or completed, derived from ended_at at insert',
    retention_days UInt16 COMMENT 'Org retention stamped at insert; the row expires started_at + retention_days',
    version UInt64 COMMENT 'Event seq (START = 1); the highest version of a session wins' CODEC(T64, ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When the collector inserted this version' CODEC(Delta, ZSTD(1)),
    source_addr String ALIAS ${addrExpression('source_ip', 'source_port')} COMMENT 'source_ip:source_port as text (IPv6 in brackets)',
    dest_addr String ALIAS ${addrExpression('dest_ip', 'dest_port')} COMMENT 'dest_ip:dest_port as text (IPv6 in brackets)'
)
ENGINE = ${n.engine('ReplacingMergeTree', 'version')}
PARTITION BY toDate(started_at)
ORDER BY (org_id, started_at, session_id)
TTL toDateTime(started_at) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}, merge_with_ttl_timeout = ${TTL_MERGE_TIMEOUT_SECONDS}, ttl_only_drop_parts = 0
COMMENT 'One row per session event version (START, UPDATE, END); query network_logs for one row per session'`;
}

function adminActionsTable(n: Names): string {
  return `CREATE TABLE IF NOT EXISTS ${n.local('admin_actions')}${n.onCluster}
(
    timestamp DateTime64(3, 'UTC') COMMENT 'When the action happened' CODEC(Delta, ZSTD(1)),
    org_id LowCardinality(String) COMMENT 'Organisation the action applies to; empty for global actions',
    action LowCardinality(String) COMMENT 'What was done, e.g. retention.update, api_key.create, sql.query',
    actor_type LowCardinality(String) COMMENT 'user, api_key or cli',
    actor String COMMENT 'Human-readable actor (user name, key name, OS user)' CODEC(ZSTD(1)),
    actor_id String COMMENT 'Stable actor id (user id, key id)' CODEC(ZSTD(1)),
    outcome LowCardinality(String) COMMENT 'success, denied or error',
    metadata String COMMENT 'JSON object with action details (never secrets)' CODEC(ZSTD(3)),
    retention_days UInt16 DEFAULT ${ADMIN_ACTIONS_RETENTION_DAYS} COMMENT 'The row expires timestamp + retention_days'
)
ENGINE = ${n.engine('MergeTree', '')}
PARTITION BY toYYYYMM(timestamp)
ORDER BY (org_id, timestamp)
TTL toDateTime(timestamp) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}, merge_with_ttl_timeout = ${TTL_MERGE_TIMEOUT_SECONDS}
COMMENT 'Audit trail of every admin action'`;
}

/**
 * What agents could not record: a row per gap (a bound was hit, sessions were proxied
 * but not recorded). ReplacingMergeTree without a version: a replayed batch brings the
 * same row again, and the duplicate collapses (read with FINAL for exact sums).
 */
function recordingGapsTable(n: Names): string {
  return `CREATE TABLE IF NOT EXISTS ${n.local('recording_gaps')}${n.onCluster}
(
    org_id LowCardinality(String) COMMENT 'Organisation of the agent',
    site_id LowCardinality(String) COMMENT 'Site of the agent',
    agent_id LowCardinality(String) COMMENT 'Agent that could not record',
    from_at DateTime64(3, 'UTC') COMMENT 'First session not recorded' CODEC(Delta, ZSTD(1)),
    to_at DateTime64(3, 'UTC') COMMENT 'When recording resumed' CODEC(Delta, ZSTD(1)),
    sessions_not_recorded UInt64 COMMENT 'Sessions proxied in [from_at, to_at] with no record' CODEC(T64, ZSTD(1)),
    reason LowCardinality(String) COMMENT 'spool_full (the disk spool reached spool.maxBytes) or buffer_full (the in-memory buffer did)',
    retention_days UInt16 COMMENT 'Org retention stamped at insert; the row expires from_at + retention_days',
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When the collector inserted the row' CODEC(Delta, ZSTD(1))
)
ENGINE = ${n.engine('ReplacingMergeTree', '')}
PARTITION BY toYYYYMM(from_at)
ORDER BY (org_id, site_id, from_at, agent_id, reason)
TTL ${saturatingTtl('from_at')}
SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}, merge_with_ttl_timeout = ${TTL_MERGE_TIMEOUT_SECONDS}
COMMENT 'Sessions agents proxied without recording them (spool or buffer full), per gap'`;
}

/** On a cluster, `<table>` is a Distributed table over `<table>_local` on every shard. */
function distributed(n: Names, cluster: string, table: string, shardingKey: string): string {
  return `CREATE TABLE IF NOT EXISTS ${n.db}.${table}${n.onCluster}
AS ${n.db}.${table}_local
ENGINE = Distributed(${cluster}, ${n.db}, ${table}_local, ${shardingKey})`;
}

/** Every column of `sessions` a `network_logs` row carries, in table order. */
export const SESSION_COLUMNS = [
  'org_id',
  'site_id',
  'agent_id',
  'resource_id',
  'session_id',
  'protocol',
  'client_id',
  'user_id',
  'source_ip',
  'source_port',
  'dest_ip',
  'dest_port',
  'dest_host',
  'started_at',
  'ended_at',
  'duration_ms',
  'bytes_tx',
  'bytes_rx',
  'packets_tx',
  'packets_rx',
  'close_reason',
  'error',
  'status',
  'retention_days',
  'version',
  'inserted_at',
  'source_addr',
  'dest_addr',
] as const;

/**
 * One row per session: FINAL collapses the versions of each session at read time.
 * Every version of a session has the same started_at, so it lives in one day
 * partition, and merging only within partitions is exact — and much cheaper
 * (measured in docs/schema.md against an argMax view).
 */
function networkLogsView(n: Names): string {
  return `CREATE OR REPLACE VIEW ${n.db}.network_logs${n.onCluster}
AS SELECT ${SESSION_COLUMNS.join(', ')}
FROM ${n.db}.sessions FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1`;
}

/**
 * The row's expiry, `<time> + retention_days` days, saturating at DateTime's last second
 * (2106-02-07 06:28:15) instead of wrapping around past it: `DateTime` arithmetic wraps
 * (`toDateTime(now()) + toIntervalDay(36500)` is in 1990), so under the first schema's
 * `toDateTime(t) + toIntervalDay(retention_days)` a large `retention_days` (65535 =
 * keep forever) expired rows decades early, and anything past 2106 at once.
 */
export function saturatingTtl(timeColumn: string): string {
  return (
    `toDateTime(least(toUInt64(toUnixTimestamp(${timeColumn})) + ` +
    `toUInt64(retention_days) * 86400, 4294967295))`
  );
}

/**
 * Replace a table's TTL with the saturating one. A metadata change only:
 * `materialize_ttl_after_modify = 0` leaves existing parts alone (no rewrite of the
 * whole table); their TTL bounds were computed by the old expression, which agrees
 * with the new one for every `retention_days` up to 3650, and parts get the new bounds
 * as they are merged or re-stamped. Running it again changes nothing.
 */
function modifyTtl(n: Names, table: string, timeColumn: string): string {
  return (
    `ALTER TABLE ${n.local(table)}${n.onCluster} MODIFY TTL ${saturatingTtl(timeColumn)} ` +
    `SETTINGS materialize_ttl_after_modify = 0`
  );
}

/** The migrations, in order. Append new ones; never edit a released one. */
export function migrations(options: SchemaOptions): Migration[] {
  const n = names(options);
  const cluster = options.cluster;
  const sessions = [sessionsTable(n)];
  const admin = [adminActionsTable(n)];
  if (cluster !== undefined) {
    // All versions of a session must land on one shard for ReplacingMergeTree to
    // collapse them, hence sharding by session_id.
    sessions.push(distributed(n, cluster, 'sessions', 'cityHash64(session_id)'));
    admin.push(distributed(n, cluster, 'admin_actions', 'cityHash64(org_id)'));
  }
  const gaps = [recordingGapsTable(n)];
  if (cluster !== undefined) {
    gaps.push(distributed(n, cluster, 'recording_gaps', 'cityHash64(org_id, site_id)'));
  }
  return [
    { version: 1, name: 'sessions table', statements: sessions },
    { version: 2, name: 'admin_actions table', statements: admin },
    { version: 3, name: 'network_logs view', statements: [networkLogsView(n)] },
    {
      version: 4,
      name: 'saturating TTL',
      statements: [
        modifyTtl(n, 'sessions', 'started_at'),
        modifyTtl(n, 'admin_actions', 'timestamp'),
      ],
    },
    { version: 5, name: 'recording_gaps table', statements: gaps },
  ];
}
