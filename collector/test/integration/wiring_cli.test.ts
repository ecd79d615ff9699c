import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, tempDir, type NatsServer } from '@connlog/testkit';
import { createApiKeys } from '../../src/auth/index.js';

/**
 * The admin commands as operators run them: the built bin, output to a pipe. A large
 * output arrives whole (the process exits only after stdout is flushed), a reader that
 * goes away early is not an error, and a failing command's exit code survives.
 */

const bin = fileURLToPath(new URL('../../bin/connlog-collector.js', import.meta.url));
const built = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const log = pino({ level: 'silent' });
const dir = tempDir('wiring-cli');
const KEYS = 600;
let nats: NatsServer;
let nc: NatsConnection;
let configFile: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  options: { closeStdoutAfterFirstChunk?: boolean } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // Like `| head -n 1`: the reader goes away while the writer still writes.
      if (options.closeStdoutAfterFirstChunk) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  if (!existsSync(built)) throw new Error('run `pnpm build` in collector/ before this test');
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  configFile = join(dir.path, 'collector.yaml');
  writeFileSync(configFile, `nats:\n  servers: ["${nats.url}"]\n`);
  const keys = await createApiKeys({ nc, log });
  for (let i = 0; i < KEYS; i += 1) {
    await keys.create({
      role: 'auditor',
      org: `org-${i}`,
      name: `key number ${i} ${'x'.repeat(40)}`,
    });
  }
  await keys.close();
});

afterAll(async () => {
  await nc.close();
  await nats.remove();
  dir.remove();
});

describe('admin CLI output and exit codes', () => {
  it('delivers a large output through a pipe in full', async () => {
    const run = await cli(['apikey', 'list', '--config', configFile, '--format', 'json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(128 * 1024);
    const list = JSON.parse(run.stdout) as { org: string }[];
    expect(list).toHaveLength(KEYS);
    const table = await cli(['apikey', 'list', '--config', configFile]);
    expect(table.code).toBe(0);
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(KEYS + 1);
  });

  it('stops quietly when the reader goes away', async () => {
    const run = await cli(['apikey', 'list', '--config', configFile, '--format', 'json'], {
      closeStdoutAfterFirstChunk: true,
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('keeps a failing command’s exit code: 2 for bad usage, 1 for a failure', async () => {
    const usage = await cli([
      'retention',
      'set',
      '--config',
      configFile,
      '--org',
      'acme',
      '--days',
      'soon',
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--days must be an integer');
    const badOrg = await cli(['retention', 'get', '--config', configFile, '--org', 'a b']);
    expect(badOrg.code).toBe(2);
    expect(badOrg.stderr).toContain('--org');
    const missing = await cli(['apikey', 'create', '--config', configFile]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--role');
    const failure = await cli(['apikey', 'revoke', '--config', configFile, 'ffffffffffffffff']);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('no API key with id ffffffffffffffff');
    const unreachable = await cli(['admin-log', '--url', 'http://127.0.0.1:1']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot read the admin log');
  });

  it('shows examples in --help', async () => {
    for (const command of [
      ['apikey', 'create'],
      ['apikey', 'list'],
      ['apikey', 'revoke'],
      ['retention', 'set'],
      ['retention', 'get'],
      ['admin-log'],
    ]) {
      const run = await cli([...command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Examples:');
    }
  });
});
