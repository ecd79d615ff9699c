import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@connlog/metrics';
import { startNatsServer, tempDir, waitFor } from '@connlog/testkit';
import type { NatsServer } from '@connlog/testkit';
import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ITEM_FIELDS } from '../../src/api/columns.js';
import { createApiServer } from '../../src/api/server.js';
import type { ApiServer } from '../../src/api/server.js';
import { createApiKeys } from '../../src/auth/index.js';
import type { ApiKeys } from '../../src/auth/index.js';
import { registerLogsCommands } from '../../src/cli/register.js';
import { registerSqlCommand } from '../../src/cli/sql.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { SessionRow, Store } from '../../src/store/store.js';
import { rowsStoredHook } from '../helpers/live.js';
import { sessionRow } from '../helpers/rows.js';

/**
 * `connlog-collector logs | export | tail | sql` in-process against a real API server
 * with API keys in a real nats-server and the real embedded ClickHouse.
 */

const log = pino({ level: 'silent' });
const dir = tempDir('api-cli');
const hook = rowsStoredHook();
const NOW = Date.now();
let nats: NatsServer;
let nc: NatsConnection;
let store: Store;
let keys: ApiKeys;
let server: ApiServer;
let base: string;
let orgKey = '';
let allKey = '';

const ALICE = sessionRow({
  org_id: 'acme',
  user_id: 'alice',
  started_at: NOW - 60_000,
  ended_at: NOW - 30_000,
  duration_ms: 30_000,
  bytes_tx: 1536,
  bytes_rx: 2_500_000,
  close_reason: 'client_closed',
  status: 'completed',
  dest_host: 'multi\nline, "quoted"',
});
const BOB = sessionRow({ org_id: 'acme', user_id: 'bob', started_at: NOW - 120_000 });
/** More rows than one API page, to exercise cursor following. */
const BULK: SessionRow[] = Array.from({ length: 1100 }, (_, i) =>
  sessionRow({ org_id: 'bulk', started_at: NOW - 1000 * (i + 1) }),
);

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  await store.insertSessions([ALICE, BOB, ...BULK]);
  keys = await createApiKeys({ nc, log });
  orgKey = (await keys.create({ role: 'auditor', org: 'acme', name: 'cli acme' })).key;
  allKey = (await keys.create({ role: 'auditor', org: '*', name: 'cli all' })).key;
  server = createApiServer({
    store,
    log,
    metrics: new Registry(),
    config: { http: { listen: '127.0.0.1:0' } },
    health: () => ({ ok: true }),
    events: hook.events,
    keys,
  });
  base = `http://${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
  await keys.close();
  await nc.close();
  await store.close();
  await nats.remove();
  dir.remove();
});

function capture(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { stream, text: () => text };
}

interface Run {
  out: string;
  err: string;
  exitCode: number | undefined;
}

/** Run `connlog-collector <args>` in-process; `signal` stops a tail. */
async function cli(
  args: string[],
  signal?: AbortSignal,
  outStream?: ReturnType<typeof capture>,
): Promise<Run> {
  const out = outStream ?? capture();
  const err = capture();
  const program = new Command('connlog-collector').exitOverride();
  program.configureOutput({
    writeOut: (s) => out.stream.write(s),
    writeErr: (s) => err.stream.write(s),
  });
  registerLogsCommands(program, {
    stdout: out.stream,
    stderr: err.stream,
    ...(signal ? { signal } : {}),
  });
  registerSqlCommand(program, { stdout: out.stream, stderr: err.stream, stdin: process.stdin });
  const before = process.exitCode;
  let exitCode: number | undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
    exitCode = process.exitCode === undefined ? undefined : Number(process.exitCode);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    exitCode = e.exitCode;
  } finally {
    process.exitCode = before;
  }
  return { out: out.text(), err: err.text(), exitCode };
}

const conn = (key = orgKey): string[] => ['--url', base, '--api-key', key];

describe('connlog-collector logs', () => {
  it('prints a table of the filtered sessions', async () => {
    const run = await cli(['logs', ...conn(), '--org', 'acme', '--user', 'alice']);
    expect(run.exitCode).toBeUndefined();
    const lines = run.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^STARTED +STATUS +SITE +RESOURCE +PROTO +USER +SOURCE +DEST +TX +RX +DURATION +CLOSE$/,
    );
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('alice');
    expect(lines[1]).toContain('1.5K');
    expect(lines[1]).toContain('2.4M');
    expect(lines[1]).toContain('30.0s');
    expect(lines[1]).toContain('client_closed');
    expect(run.err).toBe('');
  });

  it('prints JSON lines and CSV, repeatable filters OR-ed', async () => {
    const json = await cli([
      'logs',
      ...conn(),
      '--org',
      'acme',
      '--user',
      'alice',
      '--user',
      'bob',
      '-f',
      'json',
    ]);
    const items = json.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(items.map((i) => i.user_id)).toEqual(['alice', 'bob']);
    const csv = await cli([
      'logs',
      ...conn(),
      '--org',
      'acme',
      '--format',
      'csv',
      '--user',
      'alice',
    ]);
    expect(csv.out.split('\r\n')[0]).toBe(ITEM_FIELDS.join(','));
    expect(csv.out).toContain('"multi\nline, ""quoted"""');
  });

  it('follows the cursor across pages up to --limit', async () => {
    const run = await cli([
      'logs',
      ...conn(allKey),
      '--org',
      'bulk',
      '-f',
      'json',
      '--limit',
      '1050',
    ]);
    const ids = run.out
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { session_id: string }).session_id);
    expect(ids).toEqual(BULK.slice(0, 1050).map((r) => r.session_id));
    expect(run.err).toMatch(/^1050 sessions shown; more match/);
  });

  it('names the flag that was wrong, and says what to do about a 401', async () => {
    const bad = await cli(['logs', ...conn(), '--org', 'acme', '--protocol', 'icmp']);
    expect(bad.exitCode).toBe(1);
    expect(bad.err).toMatch(
      /^connlog-collector logs: protocol: "icmp" is not one of tcp, udp \(INVALID_FILTER, --protocol\)\n$/,
    );
    const anonymous = await cli(['logs', '--url', base, '--org', 'acme']);
    expect(anonymous.exitCode).toBe(1);
    expect(anonymous.err).toMatch(/UNAUTHORIZED\); pass --api-key or set CONNLOG_API_KEY/);
    const elsewhere = await cli(['logs', ...conn(), '--org', 'other']);
    expect(elsewhere.err).toMatch(/limited to org acme.*\(FORBIDDEN\)/);
    const unreachable = await cli(['logs', '--url', 'http://127.0.0.1:1', '--org', 'acme']);
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.err).toMatch(/cannot reach the collector at http:\/\/127\.0\.0\.1:1/);
    const noOrg = await cli(['logs', ...conn()]);
    expect(noOrg.exitCode).toBe(1);
    expect(noOrg.err).toMatch(/--org/);
    const badFormat = await cli(['logs', ...conn(), '--org', 'acme', '-f', 'xml']);
    expect(badFormat.err).toMatch(/"xml" is not one of table, json, csv/);
  });
});

describe('connlog-collector export', () => {
  it('streams the CSV into the file and reports rows and bytes', async () => {
    const file = join(dir.path, 'bulk.csv');
    const run = await cli(['export', ...conn(allKey), '--org', 'bulk', '-o', file]);
    expect(run.exitCode).toBeUndefined();
    const size = statSync(file).size;
    expect(run.err).toBe(`exported 1100 rows (${size} bytes) to ${file}\n`);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\r\n')).toHaveLength(1102);
    expect(existsSync(`${file}.partial`)).toBe(false);
  });

  it('counts rows whose fields hold line breaks once', async () => {
    const file = join(dir.path, 'alice.csv');
    const run = await cli(['export', ...conn(), '--org', 'acme', '--user', 'alice', '-o', file]);
    expect(run.err).toMatch(/^exported 1 rows /);
  });

  it('writes nothing under the name when the collector refuses', async () => {
    const file = join(dir.path, 'refused.csv');
    const run = await cli(['export', ...conn(), '--org', 'other', '-o', file]);
    expect(run.exitCode).toBe(1);
    expect(run.err).toMatch(/FORBIDDEN/);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);
    const missing = await cli(['export', ...conn(), '--org', 'acme']);
    expect(missing.err).toMatch(/--output/);
  });
});

describe('connlog-collector tail', () => {
  it('prints sessions as they are stored until stopped', async () => {
    const stop = new AbortController();
    const out = capture();
    const running = cli(
      ['tail', ...conn(), '--org', 'acme', '--user', 'carol', '-f', 'json'],
      stop.signal,
      out,
    );
    await waitFor(() => hook.listeners > 0, 5000, 'tail connected');
    const carol = sessionRow({ org_id: 'acme', user_id: 'carol', started_at: NOW });
    const dave = sessionRow({ org_id: 'acme', user_id: 'dave', started_at: NOW });
    hook.emit([dave, carol]);
    await waitFor(() => out.text().includes(carol.session_id), 5000, 'carol printed');
    stop.abort();
    const run = await running;
    expect(run.exitCode).toBeUndefined();
    expect(run.err).toBe('tailing acme where user=carol; Ctrl-C to stop\n');
    expect(run.out.trimEnd().split('\n')).toHaveLength(1);
    expect(run.out).not.toContain(dave.session_id);
  });

  it('refuses a time window and reports a refused key', async () => {
    const window = await cli(['tail', ...conn(), '--org', 'acme', '--from', '1714564800']);
    expect(window.exitCode).toBe(1);
    expect(window.err).toMatch(/unknown option '--from'/);
    const refused = await cli(['tail', ...conn(), '--org', 'other']);
    expect(refused.exitCode).toBe(1);
    expect(refused.err).toMatch(/^connlog-collector tail: .*\(FORBIDDEN\)\n$/);
  });
});

describe('connlog-collector sql --api-key', () => {
  it('sends the key; a key for one org is refused', async () => {
    const ok = await cli(['sql', '--url', base, '--api-key', allKey, '-f', 'TSV', 'SELECT 40 + 2']);
    expect(ok).toEqual({ out: '42\n', err: '', exitCode: undefined });
    const scoped = await cli(['sql', '--url', base, '--api-key', orgKey, 'SELECT 1']);
    expect(scoped.exitCode).toBe(1);
    expect(scoped.err).toMatch(/^Code: 497\./);
  });
});

describe('--help', () => {
  it.each(['logs', 'export', 'tail', 'sql'])('%s has examples', async (name) => {
    const run = await cli([name, '--help']);
    expect(run.out).toContain('Examples:');
    expect(run.out).toContain(`connlog-collector ${name}`);
  });
});

describe('as a process (the built bin, `pnpm build` first)', () => {
  const bin = fileURLToPath(new URL('../../bin/connlog-collector.js', import.meta.url));
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, ...args],
        { env: { ...process.env, ...env } },
        (error, out, err) => {
          const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
          resolve({ code, out, err });
        },
      );
    });

  it('reads --url, the key and the org from the environment, and exits 1 on a refusal', async () => {
    const env = { CONNLOG_URL: base, CONNLOG_API_KEY: orgKey, CONNLOG_ORG: 'acme' };
    const ok = await run(['logs', '--user', 'bob', '-f', 'json'], env);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.out) as { session_id: string }).session_id).toBe(BOB.session_id);
    const refused = await run(['logs', '--org', 'other'], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/FORBIDDEN/);
  });
});
