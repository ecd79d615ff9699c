import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { shebangNodeFlags, waitFor } from '@connlog/testkit';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export const AGENT_BIN = join(repo, 'agent', 'bin', 'connlog-agent.js');
export const COLLECTOR_BIN = join(repo, 'collector', 'bin', 'connlog-collector.js');

/** A daemon started as a real child process, with its output kept for diagnostics. */
export interface Daemon {
  readonly name: string;
  readonly process: ChildProcess;
  /** Last ~64 KiB of stdout+stderr. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process exited. */
  exited: Promise<number | string>;
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function writeYaml(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(value));
  return file;
}

export function spawnDaemon(name: string, bin: string, args: string[]): Daemon {
  // The shebang's node flags (the agent's memory flags) are part of what an operator runs.
  const child = spawn(process.execPath, [...shebangNodeFlags(bin), bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test' },
  });
  let buffer = '';
  const keep = (chunk: Buffer): void => {
    buffer = (buffer + chunk.toString()).slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return {
    name,
    process: child,
    output: () => buffer,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Wait until `GET url` answers 200, failing early (with the daemon's output) if it exits. */
export async function waitHealthy(daemon: Daemon, url: string, timeoutMs = 60_000): Promise<void> {
  let exitCode: number | string | undefined;
  void daemon.exited.then((code) => {
    exitCode = code;
  });
  await waitFor(
    async () => {
      if (exitCode !== undefined) {
        throw new Error(`${daemon.name} exited with ${exitCode}:\n${daemon.output()}`);
      }
      const response = await fetch(url).catch(() => undefined);
      return response?.status === 200;
    },
    timeoutMs,
    `${daemon.name} to answer ${url}`,
    100,
  ).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n--- ${daemon.name} output ---\n${daemon.output()}`);
  });
}
