#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=20
// The shebang's V8 flags trade some CPU for memory (docs/agent.md § Memory): a young
// generation capped at 2 × 2 MiB instead of growing to 2 × 16 MiB, and old-generation
// garbage collected once it is 20 % of the live heap rather than up to 100 % or more,
// so RSS follows the sessions held. `node <other flags> bin/connlog-agent.js` overrides.
import { main } from '../dist/cli.js';

main(process.argv);
