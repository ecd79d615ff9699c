import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { shebangNodeFlags } from '@connlog/testkit';
import { describe, expect, it } from 'vitest';

// e2e tests and benchmarks start the agent as `node <shebang flags> <bin>`: the flags they
// read must be exactly the ones the installed bin runs with.
describe('shebangNodeFlags', () => {
  it('reads the flags of bin/connlog-agent.js', () => {
    const bin = fileURLToPath(new URL('../../bin/connlog-agent.js', import.meta.url));
    const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
    const flags = shebangNodeFlags(bin);
    expect(flags.length).toBeGreaterThan(0);
    expect(`#!/usr/bin/env -S node ${flags.join(' ')}`).toBe(first);
  });
});
