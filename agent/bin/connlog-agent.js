#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=20 --initial-old-space-size=64
// The shebang's V8 flags trade a little CPU for memory (docs/agent.md § Memory): the
// young generation is capped at 2 × 2 MiB (V8 grows it to 2 × 16 MiB under load and
// keeps it), and a full GC runs once the old generation has grown 20 % past its live
// size (V8 picks 10–300 %), so RSS follows the sessions held rather than the last burst;
// the old generation starts at 64 MiB, so the external memory of socket reads (counted
// against it) does not trigger a Mark-Compact every ~75 ms under throughput load.
// `node <flags> bin/connlog-agent.js` does not read the shebang: that is the override.
// The build bundles dist/cli.js and its dependencies into one file (scripts/bundle.mjs):
// ~9 MiB less idle RSS than loading ~270 modules. A tsc-only build runs unbundled.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/connlog-agent.bundle.mjs', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/cli.js');

main(process.argv);
