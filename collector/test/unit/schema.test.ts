import { describe, expect, it } from 'vitest';
import { SESSION_COLUMNS, bootstrapStatements, migrations } from '../../src/store/schema.js';
import { stripTrailingSemicolons, withFormat } from '../../src/store/sql.js';

describe('schema', () => {
  it('numbers migrations 1..n without gaps', () => {
    const list = migrations({ database: 'connlog' });
    expect(list.map((m) => m.version)).toEqual(list.map((_, i) => i + 1));
  });

  it('puts every contract column in sessions and in network_logs', () => {
    const sql = migrations({ database: 'connlog' })
      .flatMap((m) => m.statements)
      .join('\n');
    for (const column of SESSION_COLUMNS) expect(sql).toMatch(new RegExp(`\\n\\s+${column} `));
    expect(sql).toContain('ENGINE = ReplacingMergeTree(version)');
    expect(sql).toContain('PARTITION BY toDate(started_at)');
    expect(sql).toContain('ORDER BY (org_id, started_at, session_id)');
    expect(sql).toContain('TTL toDateTime(started_at) + toIntervalDay(retention_days)');
    expect(sql).toContain('non_replicated_deduplication_window = 1000');
    expect(sql).not.toContain('ON CLUSTER');
  });

  it('comments every column', () => {
    const sql = migrations({ database: 'connlog' })
      .flatMap((m) => m.statements)
      .join('\n');
    const columnLines = sql.split('\n').filter((line) => /^ {4}[a-z_]+ [A-Z]/.test(line));
    expect(columnLines.length).toBeGreaterThan(30);
    for (const line of columnLines) expect(line).toContain("COMMENT '");
  });

  it('uses ON CLUSTER, Replicated engines and Distributed tables on a cluster', () => {
    const options = { database: 'connlog', cluster: 'prod' };
    const sql = [
      ...bootstrapStatements(options),
      ...migrations(options).flatMap((m) => m.statements),
    ];
    for (const statement of sql) expect(statement).toContain('ON CLUSTER prod');
    const text = sql.join('\n');
    expect(text).toContain('CREATE TABLE IF NOT EXISTS connlog.sessions_local ON CLUSTER prod');
    expect(text).toContain(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)",
    );
    expect(text).toContain('Distributed(prod, connlog, sessions_local, cityHash64(session_id))');
    expect(text).toContain('FROM connlog.sessions FINAL');
  });

  it('refuses names that are not identifiers', () => {
    expect(() => migrations({ database: 'connlog; DROP' })).toThrow(/clickhouse.database/);
    expect(() => migrations({ database: 'connlog', cluster: 'a b' })).toThrow(/clickhouse.cluster/);
  });
});

describe('sql helpers', () => {
  it('drops trailing semicolons and puts FORMAT on its own line', () => {
    expect(stripTrailingSemicolons('SELECT 1 ;; \n')).toBe('SELECT 1');
    expect(withFormat('SELECT 1 -- note;', 'CSV')).toBe('SELECT 1 -- note\nFORMAT CSV');
  });
});
