import { fileURLToPath } from 'node:url';

/**
 * The agent's executable, which worker processes run (`connlog-agent worker`). This
 * file sits at the top of src/ and of dist/, and the bundle in dist/, so one relative
 * path finds bin/ from all three.
 */
export const AGENT_BIN = fileURLToPath(new URL('../bin/connlog-agent.js', import.meta.url));

/** The V8 flags of the bin's shebang: workers get them when the agent's own are unknown. */
export const AGENT_NODE_ARGS: readonly string[] = [
  '--max-semi-space-size=2',
  '--heap-growing-percent=20',
  '--initial-old-space-size=64',
];
