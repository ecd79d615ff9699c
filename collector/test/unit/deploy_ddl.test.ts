import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderDdl } from '../../src/store/ddl.js';

// deploy/clickhouse/*.sql are what DBAs read; they must match what the collector runs.
// Regenerate with: node collector/bin/connlog-collector.js schema [--cluster connlog] > …
describe('deploy/clickhouse DDL', () => {
  it.each([
    ['single-node.sql', { database: 'connlog' }],
    ['cluster.sql', { database: 'connlog', cluster: 'connlog' }],
  ])('%s is current', (file, options) => {
    const path = fileURLToPath(new URL(`../../../deploy/clickhouse/${file}`, import.meta.url));
    expect(readFileSync(path, 'utf8')).toBe(renderDdl(options));
  });

  it('renders cluster DDL with ON CLUSTER and replicated engines', () => {
    const ddl = renderDdl({ database: 'connlog', cluster: 'c1' });
    expect(ddl).toContain('ON CLUSTER c1');
    expect(ddl).toMatch(/ReplicatedReplacingMergeTree/);
    expect(ddl).toMatch(/Distributed\(/);
    expect(renderDdl({ database: 'connlog' })).not.toContain('ON CLUSTER');
  });
});
