import { readFileSync } from 'node:fs';

const SHEBANG = /^#!\s*\/usr\/bin\/env\s+(?:-S\s+)?node((?:\s+\S+)*)\s*$/;

/**
 * Node flags from a bin's shebang (`#!/usr/bin/env -S node <flags>`). An installed
 * daemon runs with them (the kernel and the package managers' bin shims honour the
 * shebang), so tests and benchmarks start `node <flags> <bin>` to run what an operator
 * runs while still using the test's own node binary.
 */
export function shebangNodeFlags(bin: string): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const flags = SHEBANG.exec(first)?.[1];
  return flags === undefined ? [] : flags.split(/\s+/).filter(Boolean);
}
