import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { shebangNodeFlags } from '@connlog/testkit';
import { describe, expect, it } from 'vitest';
import { AGENT_BIN, AGENT_NODE_ARGS } from '../../src/agent_bin.js';

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

  it('is what worker processes get when the agent is created without its own flags', () => {
    expect(AGENT_NODE_ARGS).toEqual(shebangNodeFlags(AGENT_BIN));
  });
});
