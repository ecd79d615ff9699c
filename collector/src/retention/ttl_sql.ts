/**
 * The statements retention runs against ClickHouse, built as text plus `{name:Type}`
 * parameters. Only the database and cluster names are spliced, and only after they
 * pass the identifier check; every value travels as a parameter.
 */

export interface TtlSqlOptions {
  /** @default "connlog" */
  database?: string;
  /** Cluster name (config `clickhouse.cluster`): ALTER/OPTIMIZE run ON CLUSTER on `sessions_local`. */
  cluster?: string;
}

export interface Statement {
  sql: string;
  params: Record<string, unknown>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function identifier(value: string, what: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new RangeError(
      `${what} must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*), got "${value}"`,
    );
  }
  return value;
}

export interface TtlTables {
  database: string;
  /** Table holding the rows (ALTER and OPTIMIZE target): `sessions` or `sessions_local`. */
  dataTable: string;
  /** Table to read through: `sessions` (Distributed on a cluster). */
  readTable: string;
  /** ` ON CLUSTER <name>` or empty. */
  onCluster: string;
  /** Where to look for parts: `system.parts` or `clusterAllReplicas(<name>, system.parts)`. */
  partsSource: string;
  cluster: string | undefined;
}

export function ttlTables(options: TtlSqlOptions = {}): TtlTables {
  const database = identifier(options.database ?? 'connlog', 'clickhouse.database');
  const cluster =
    options.cluster === undefined ? undefined : identifier(options.cluster, 'clickhouse.cluster');
  return {
    database,
    dataTable: cluster === undefined ? 'sessions' : 'sessions_local',
    readTable: 'sessions',
    onCluster: cluster === undefined ? '' : ` ON CLUSTER ${cluster}`,
    partsSource:
      cluster === undefined ? 'system.parts' : `clusterAllReplicas(${cluster}, system.parts)`,
    cluster,
  };
}

/**
 * Re-stamp an org's existing rows. `retention_days` is in neither the sort nor the
 * partition key, so this mutation rewrites that one column, and only in parts that
 * hold rows of the org with another value (parts where the predicate matches nothing
 * are skipped). ClickHouse recomputes the TTL of the parts it rewrites, which already
 * drops rows that are now past their retention.
 *
 * `mutations_sync = 0` (chDB defaults to 1): the statement returns once the mutation
 * is queued and ClickHouse runs it in the background. Waiting in the statement would
 * hold the embedded engine's connection, and with it every ingest INSERT, for as long
 * as the mutation runs; the caller polls `pendingMutationsSql` instead.
 */
export function restampSql(t: TtlTables, org: string, storedDays: number): Statement {
  return {
    sql:
      `ALTER TABLE ${t.database}.${t.dataTable}${t.onCluster} ` +
      `UPDATE retention_days = {days:UInt16} ` +
      `WHERE org_id = {org:String} AND retention_days != {days:UInt16} ` +
      `SETTINGS mutations_sync = 0`,
    params: { org, days: storedDays },
  };
}

/**
 * Partitions whose parts hold rows past their TTL (ClickHouse keeps the earliest row
 * expiry of each part in `delete_ttl_info_min`; 1970 means the part has none), oldest
 * first.
 */
export function expiredPartitionsSql(t: TtlTables, limit: number): Statement {
  return {
    sql:
      `SELECT partition_id, sum(rows) AS rows FROM ${t.partsSource} ` +
      `WHERE database = {database:String} AND table = {table:String} AND active ` +
      `AND delete_ttl_info_min > toDateTime(0) AND delete_ttl_info_min <= now() ` +
      `GROUP BY partition_id ORDER BY partition_id LIMIT {limit:UInt32}`,
    params: { database: t.database, table: t.dataTable, limit },
  };
}

/**
 * Apply TTL to one partition now: its parts are rewritten without their expired rows.
 * A background mutation (not `OPTIMIZE ... FINAL`, which runs the merge inside the
 * statement and so would hold the embedded engine's connection, delaying ingest
 * INSERTs by the length of the merge). Not subject to `merge_with_ttl_timeout`.
 */
export function materializeTtlSql(t: TtlTables, partitionId: string): Statement {
  return {
    sql:
      `ALTER TABLE ${t.database}.${t.dataTable}${t.onCluster} ` +
      `MATERIALIZE TTL IN PARTITION ID {partition:String} SETTINGS mutations_sync = 0`,
    params: { partition: partitionId },
  };
}

/** Mutations of the table not finished yet (on every replica of a cluster). */
export function pendingMutationsSql(t: TtlTables): Statement {
  const source =
    t.cluster === undefined
      ? 'system.mutations'
      : `clusterAllReplicas(${t.cluster}, system.mutations)`;
  return {
    sql:
      `SELECT count() AS pending, anyIf(latest_fail_reason, latest_fail_reason != '') AS failure ` +
      `FROM ${source} WHERE database = {database:String} AND table = {table:String} AND NOT is_done`,
    params: { database: t.database, table: t.dataTable },
  };
}

/** The retention each org's rows are stamped with, to find rows a change missed. */
export function stampedRetentionSql(t: TtlTables): Statement {
  return {
    sql:
      `SELECT org_id, retention_days, count() AS rows FROM ${t.database}.${t.readTable} ` +
      `GROUP BY org_id, retention_days ORDER BY org_id, retention_days`,
    params: {},
  };
}
