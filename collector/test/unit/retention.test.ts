import { describe, expect, it } from 'vitest';
import {
  RETENTION_FOREVER_STORED,
  RETENTION_MAX_DAYS,
  RetentionError,
  expiredPartitionsSql,
  materializeTtlSql,
  pendingMutationsSql,
  restampSql,
  stampedRetentionSql,
  storedRetentionDays,
  ttlTables,
  validateOrgId,
  validateRetentionDays,
} from '../../src/retention/index.js';

function errorOf(fn: () => unknown): RetentionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RetentionError) return err;
    throw new Error(`not a RetentionError: ${String(err)}`);
  }
  throw new Error('did not throw');
}

describe('retention days', () => {
  it.each([
    [-1, -1],
    [0, 0],
    [1, 1],
    [30, 30],
    [RETENTION_MAX_DAYS, RETENTION_MAX_DAYS],
    ['90', 90],
    [' 7 ', 7],
  ])('accepts %j as %d', (value, days) => {
    expect(validateRetentionDays(value, 'days')).toBe(days);
  });

  it.each([
    -2,
    RETENTION_MAX_DAYS + 1,
    36500,
    65535,
    1.5,
    Number.NaN,
    '7d',
    '',
    null,
    undefined,
    {},
    true,
  ])('refuses %j, naming the setting and the value', (value) => {
    const err = errorOf(() => validateRetentionDays(value, 'retention.defaultDays'));
    expect(err.code).toBe('RETENTION_INVALID');
    expect(err.message).toContain('retention.defaultDays');
    expect(err.message).toContain(`1..${RETENTION_MAX_DAYS}`);
  });

  it('names the bad value in the message', () => {
    expect(errorOf(() => validateRetentionDays(40000, 'days')).message).toMatch(/got 40000$/);
    expect(errorOf(() => validateRetentionDays('abc', 'days')).message).toMatch(/got "abc"$/);
  });

  it('stamps forever as 65535 and refuses to stamp 0', () => {
    expect(storedRetentionDays(-1)).toBe(RETENTION_FOREVER_STORED);
    expect(RETENTION_FOREVER_STORED).toBe(65535);
    expect(storedRetentionDays(30)).toBe(30);
    expect(errorOf(() => storedRetentionDays(0)).code).toBe('RETENTION_INVALID');
  });

  it('keeps ordinary retention clear of the DateTime limit (2106-02-07)', () => {
    // toDateTime(started_at) + toIntervalDay(days) wraps past 2106: the longest
    // ordinary retention must fit for rows started decades from now.
    const limit = Date.UTC(2106, 1, 7);
    const startedIn2095 = Date.UTC(2095, 11, 31);
    expect(startedIn2095 + RETENTION_MAX_DAYS * 86_400_000).toBeLessThan(limit);
  });

  it('validates org ids', () => {
    expect(validateOrgId('acme_1-x')).toBe('acme_1-x');
    for (const bad of ['', 'a.b', 'a b', '*', 'x'.repeat(65), "o'rg"]) {
      expect(errorOf(() => validateOrgId(bad)).message).toContain('org must be');
    }
  });
});

describe('TTL statements', () => {
  it('single node: re-stamp one org with parameters, on sessions', () => {
    const statement = restampSql(ttlTables(), 'acme', 7);
    expect(statement.sql).toBe(
      'ALTER TABLE connlog.sessions UPDATE retention_days = {days:UInt16} ' +
        'WHERE org_id = {org:String} AND retention_days != {days:UInt16} SETTINGS mutations_sync = 0',
    );
    expect(statement.params).toEqual({ org: 'acme', days: 7 });
  });

  it('cluster: ON CLUSTER on the local table, following mutations on every replica', () => {
    const t = ttlTables({ database: 'logs', cluster: 'main' });
    expect(restampSql(t, 'acme', 7).sql).toBe(
      'ALTER TABLE logs.sessions_local ON CLUSTER main UPDATE retention_days = {days:UInt16} ' +
        'WHERE org_id = {org:String} AND retention_days != {days:UInt16} SETTINGS mutations_sync = 0',
    );
    expect(materializeTtlSql(t, '20260101').sql).toBe(
      'ALTER TABLE logs.sessions_local ON CLUSTER main MATERIALIZE TTL IN PARTITION ID {partition:String} SETTINGS mutations_sync = 0',
    );
    expect(pendingMutationsSql(t).sql).toContain('FROM clusterAllReplicas(main, system.mutations)');
    const parts = expiredPartitionsSql(t, 10);
    expect(parts.sql).toContain('FROM clusterAllReplicas(main, system.parts)');
    expect(parts.params).toEqual({ database: 'logs', table: 'sessions_local', limit: 10 });
    expect(stampedRetentionSql(t).sql).toContain(
      'FROM logs.sessions GROUP BY org_id, retention_days',
    );
  });

  it('finds expired partitions from the parts TTL info, oldest first', () => {
    const { sql, params } = expiredPartitionsSql(ttlTables(), 64);
    expect(sql).toBe(
      'SELECT partition_id, sum(rows) AS rows FROM system.parts ' +
        'WHERE database = {database:String} AND table = {table:String} AND active ' +
        'AND delete_ttl_info_min > toDateTime(0) AND delete_ttl_info_min <= now() ' +
        'GROUP BY partition_id ORDER BY partition_id LIMIT {limit:UInt32}',
    );
    expect(params).toEqual({ database: 'connlog', table: 'sessions', limit: 64 });
  });

  it('applies TTL to a partition with the id as a parameter, never spliced', () => {
    const { sql, params } = materializeTtlSql(ttlTables(), "x'; DROP TABLE t; --");
    expect(sql).toBe(
      'ALTER TABLE connlog.sessions MATERIALIZE TTL IN PARTITION ID {partition:String} SETTINGS mutations_sync = 0',
    );
    expect(params).toEqual({ partition: "x'; DROP TABLE t; --" });
  });

  it('follows unfinished mutations of the data table', () => {
    const { sql, params } = pendingMutationsSql(ttlTables());
    expect(sql).toBe(
      "SELECT count() AS pending, anyIf(latest_fail_reason, latest_fail_reason != '') AS failure " +
        'FROM system.mutations WHERE database = {database:String} AND table = {table:String} AND NOT is_done',
    );
    expect(params).toEqual({ database: 'connlog', table: 'sessions' });
  });

  it('refuses database and cluster names that are not identifiers', () => {
    expect(() => ttlTables({ database: 'a;b' })).toThrow(/clickhouse.database/);
    expect(() => ttlTables({ cluster: 'c d' })).toThrow(/clickhouse.cluster/);
  });
});
