import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';

// The bin runs the built CLI (`pnpm build` first), as operators do.
const bin = fileURLToPath(new URL('../../bin/connlog-collector.js', import.meta.url));
const built = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Run {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function launch(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, output: () => output };
}

const dir = tempDir('cli');
let nats: NatsServer;

beforeAll(async () => {
  if (!existsSync(built)) throw new Error('run `pnpm build` in collector/ before this test');
  nats = await startNatsServer();
});

afterAll(async () => {
  await nats.remove();
  dir.remove();
});

describe('connlog-collector CLI', () => {
  it('runs, serves /healthz, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const config = join(dir.path, 'collector.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${join(dir.path, 'data')}`,
        `nats: { servers: ["${nats.url}"] }`,
        `http: { listen: "127.0.0.1:${port}" }`,
        'log: { level: warn }',
      ].join('\n'),
    );
    const run = launch(['run', '--config', config]);
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok,
      30_000,
      `/healthz to answer 200 (output: ${run.output()})`,
    );
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('exits 2 and names the key on a bad config', async () => {
    const run = launch(['run', '--set', 'ingest.flushInterval=soon']);
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('ingest.flushInterval');
  });

  it('exits 2 on an unknown environment variable', async () => {
    const run = launch(['check'], { CONNLOG_COLLECTOR_NATS_SERVER: 'nats://x:4222' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('CONNLOG_COLLECTOR_NATS_SERVER');
  });

  it('check prints the config with secrets redacted', async () => {
    const run = launch(['check', '--set', 'clickhouse.password=hunter2']);
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('"database": "connlog"');
    expect(run.output()).not.toContain('hunter2');
  });

  it('exits 1 when NATS is unreachable', async () => {
    const port = await freePort();
    const run = launch([
      'run',
      '--nats',
      `nats://127.0.0.1:${port}`,
      '--data-dir',
      join(dir.path, 'data-unreachable'),
      '--http-listen',
      '127.0.0.1:0',
    ]);
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('cannot connect to NATS');
  });
});
