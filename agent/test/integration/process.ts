import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@connlog/testkit';
import { stringify } from 'yaml';
import { AGENT_BIN } from '../../src/agent_bin.js';

// The bin the agent forks its workers from; tests run it as an operator would.
export { AGENT_BIN };
// What the bin loads after a full build (scripts/bundle.mjs); required here so these
// tests run the bundled agent an operator runs, not the unbundled fallback.
const BUNDLE = fileURLToPath(new URL('../../dist/connlog-agent.bundle.mjs', import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  /** stdout + stderr so far (JSON log lines). */
  output(): string;
  /** Resolves with the exit code, or the signal name. */
  exited: Promise<number | string>;
}

export function writeConfig(file: string, config: Record<string, unknown>): string {
  writeFileSync(file, stringify(config));
  return file;
}

/** Spawn the real `connlog-agent run` (needs `pnpm build`) and wait for `/healthz`. */
export async function spawnAgent(configFile: string, httpListen: string): Promise<AgentProcess> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run pnpm build first`);
  // Executed as an operator's install runs it: the kernel reads the shebang, so its node
  // flags apply (env finds `node` on PATH: the one running the tests goes first).
  const child = spawn(AGENT_BIN, ['run', '--config', configFile], {
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  let gone: number | string | undefined;
  void exited.then((value) => (gone = value));
  await waitFor(
    async () => {
      if (gone !== undefined) throw new Error(`agent exited (${gone}): ${output}`);
      const res = await fetch(`http://${httpListen}/healthz`);
      return res.status === 200;
    },
    20_000,
    'the agent process to answer /healthz',
  );
  return { child, output: () => output, exited };
}
