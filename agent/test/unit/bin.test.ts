import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = readFileSync(
  fileURLToPath(new URL('../../bin/connlog-agent.js', import.meta.url)),
  'utf8',
);
const docs = readFileSync(
  fileURLToPath(new URL('../../../docs/agent.md', import.meta.url)),
  'utf8',
);
const shebang = bin.split('\n', 1)[0] ?? '';
const flags = shebang
  .replace(/^#!\/usr\/bin\/env -S node\s*/, '')
  .split(/\s+/)
  .filter(Boolean);

// An installed agent is started through the shebang: a flag this node refuses would stop
// it before any of our code runs.
describe('bin/connlog-agent.js shebang', () => {
  it('runs node through env -S, so the flags reach node', () => {
    expect(shebang).toMatch(/^#!\/usr\/bin\/env -S node( --[a-z-]+(=\S+)?)+$/);
  });

  it.each(flags)('node accepts %s', (flag) => {
    const result = spawnSync(process.execPath, [flag, '-e', '0'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.each(flags)('docs/agent.md documents %s', (flag) => {
    expect(docs).toContain(`\`${flag}\``);
  });
});
