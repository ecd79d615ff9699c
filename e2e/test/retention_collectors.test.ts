import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import {
  CloseReason,
  EventKind,
  Protocol,
  encodeBatch,
  ipToBytes,
  sessionsSubject,
  type SessionEventInput,
} from '@connlog/proto';
import { uuidv7, waitFor } from '@connlog/testkit';
import { COLLECTOR_BIN, writeYaml } from './processes.js';
import { startStack, type CollectorHandle, type Stack } from './stack.js';

/**
 * Retention and the admin log across two real collector processes sharing one NATS
 * (each with its own embedded store, so each holds its share of the rows): a change
 * made through one collector's API, or with the CLI, is used by both, applied to the
 * rows both hold, and recorded; old rows go on the enforcement schedule
 * (`retention.enforceInterval: 2s`) without anyone asking.
 */

const DAY = 86_400_000;
let stack: Stack;
let a: CollectorHandle;
let b: CollectorHandle;
let nc: NatsConnection;
let cliConfig: string;
let adminKey: string;
let auditorKey: string;
let published = 0;

/** Run the real CLI; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [COLLECTOR_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function createKey(role: string, org: string): Promise<string> {
  const run = await cli(['apikey', 'create', '--config', cliConfig, '--role', role, '--org', org]);
  expect(run.code, run.stderr).toBe(0);
  const key = run.stdout.trimEnd().split('\n').at(-1) ?? '';
  expect(key).toMatch(/^clk_[0-9a-f]{16}_/);
  return key;
}

/** One batch per session (so the shared consumer spreads them), each an END event. */
async function publishSessions(org: string, daysAgo: number, sessions: number): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < sessions; i += 1) {
    const startedAtMs = Date.now() - daysAgo * DAY - 60_000 - i;
    const event: SessionEventInput = {
      sessionId: uuidv7(startedAtMs),
      kind: EventKind.END,
      seq: 1,
      orgId: org,
      siteId: 'berlin',
      agentId: 'e2e-agent',
      resourceId: 'db',
      protocol: Protocol.TCP,
      sourceIp: ipToBytes('192.0.2.10'),
      sourcePort: 50_000 + i,
      destIp: ipToBytes('10.0.0.5'),
      destPort: 5432,
      destHost: 'db.internal',
      startedAtMs,
      eventAtMs: startedAtMs + 1000,
      endedAtMs: startedAtMs + 1000,
      bytesTx: 10,
      bytesRx: 20,
      closeReason: CloseReason.CLIENT_CLOSED,
    };
    published += 1;
    await js.publish(
      sessionsSubject(org, 'berlin'),
      encodeBatch({
        agentId: 'e2e-agent',
        batchSeq: published,
        sentAtMs: Date.now(),
        orgId: org,
        siteId: 'berlin',
        events: [event],
      }),
      { msgID: `e2e-agent:${published}` },
    );
  }
}

/** Rows of `org` over both stores (each collector holds its share). */
async function count(org: string, where = '1'): Promise<number> {
  let total = 0;
  for (const collector of [a, b]) {
    const [row] = await collector.sql<{ n: number }>(
      `SELECT count() AS n FROM connlog.network_logs WHERE org_id = '${org}' AND ${where}`,
      adminKey,
    );
    total += row?.n ?? 0;
  }
  return total;
}

async function inserted(collector: CollectorHandle): Promise<number> {
  const text = await (
    await fetch(`${collector.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })
  ).text();
  const line = text.split('\n').find((l) => l.startsWith('connlog_collector_rows_inserted_total '));
  return Number(line?.split(' ')[1] ?? 0);
}

async function retentionOf(collector: CollectorHandle, org: string): Promise<number> {
  const response = await fetch(`${collector.url}/api/v1/orgs/${org}/retention`, {
    headers: { authorization: `Bearer ${adminKey}` },
  });
  return ((await response.json()) as { days: number }).days;
}

interface Entry {
  orgId: string;
  action: string;
  actorType: string;
  outcome: string;
  metadata: Record<string, unknown>;
}

/** The admin log of both collectors (each records what it handled). */
async function adminLog(org: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const collector of [a, b]) {
    const response = await fetch(`${collector.url}/api/v1/orgs/${org}/admin-actions?limit=1000`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(response.status).toBe(200);
    out.push(...((await response.json()) as { items: Entry[] }).items);
  }
  return out;
}

beforeAll(async () => {
  stack = await startStack('retention');
  nc = await connect({ servers: stack.nats.url });
  cliConfig = writeYaml(stack.dir, 'cli.yaml', { nats: { servers: [stack.nats.url] } });
  // The bootstrap: a key made with the CLI before any collector runs.
  adminKey = await createKey('admin', '*');
  const extra = {
    auth: { enabled: true },
    retention: { defaultDays: 30, enforceInterval: '2s' },
  };
  [a, b] = await Promise.all([
    stack.startCollector(extra, { name: 'collector-a' }),
    stack.startCollector(extra, { name: 'collector-b' }),
  ]);
  auditorKey = await createKey('auditor', 'acme');
});

afterAll(async () => {
  await nc.close();
  await stack.close();
});

describe('retention across two collector processes', () => {
  it('removes rows past the default retention on the schedule, on both collectors', async () => {
    await publishSessions('aged', 45, 10);
    await publishSessions('aged', 2, 10);
    await waitFor(
      async () => (await inserted(a)) + (await inserted(b)) >= 20,
      60_000,
      'both collectors to insert the 20 sessions',
      200,
    );
    expect((await inserted(a)) > 0 && (await inserted(b)) > 0).toBe(true);
    await waitFor(
      async () => (await count('aged', 'started_at < now() - INTERVAL 30 DAY')) === 0,
      30_000,
      'the 45-day-old rows to be gone from both stores',
      500,
    );
    expect(await count('aged')).toBe(10);
  });

  it('applies a change made through one collector on both, to new and stored rows', async () => {
    await publishSessions('acme', 20, 12);
    await publishSessions('acme', 1, 12);
    await waitFor(async () => (await count('acme')) === 24, 60_000, 'the 24 acme sessions', 200);

    const response = await fetch(`${a.url}/api/v1/orgs/acme/retention`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ days: 7 }),
    });
    expect(response.status).toBe(200);
    await waitFor(async () => (await retentionOf(b, 'acme')) === 7, 10_000, 'b to use 7 days', 100);
    await waitFor(
      async () => (await count('acme')) === 12,
      30_000,
      'the 20-day-old acme rows to be gone from both stores',
      200,
    );
    const stamps = [
      ...(await a.sql<{ d: number }>(
        "SELECT DISTINCT retention_days AS d FROM connlog.sessions WHERE org_id = 'acme'",
        adminKey,
      )),
      ...(await b.sql<{ d: number }>(
        "SELECT DISTINCT retention_days AS d FROM connlog.sessions WHERE org_id = 'acme'",
        adminKey,
      )),
    ];
    expect(new Set(stamps.map((s) => s.d))).toEqual(new Set([7]));
    expect(await count('aged')).toBe(10);

    // The auditor may not: 403 on the other collector, recorded there as denied.
    const denied = await fetch(`${b.url}/api/v1/orgs/acme/retention`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${auditorKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ days: 1 }),
    });
    expect(denied.status).toBe(403);
    const log = await waitFor(
      async () => {
        const entries = (await adminLog('acme')).filter((e) => e.action === 'retention.update');
        return entries.some((e) => e.outcome === 'denied') ? entries : undefined;
      },
      15_000,
      'the denied attempt in the admin log',
      200,
    );
    const success = log.find((e) => e.outcome === 'success' && e.metadata.days === 7);
    expect(success?.actorType).toBe('api_key');
    expect(log.find((e) => e.outcome === 'denied')?.actorType).toBe('api_key');
  });

  it('takes a CLI change (0 = store nothing) on both collectors, and records it once', async () => {
    const run = await cli([
      'retention',
      'set',
      '--config',
      cliConfig,
      '--org',
      'quiet',
      '--days',
      '0',
    ]);
    expect(run.code, run.stderr).toBe(0);
    await waitFor(
      async () => (await retentionOf(a, 'quiet')) === 0 && (await retentionOf(b, 'quiet')) === 0,
      10_000,
      'both collectors to use quiet = 0',
      100,
    );
    const before = (await inserted(a)) + (await inserted(b));
    await publishSessions('quiet', 1, 10);
    await publishSessions('loud', 1, 2);
    await waitFor(async () => (await count('loud')) === 2, 60_000, 'the loud sessions', 200);
    expect(await count('quiet')).toBe(0);
    expect((await inserted(a)) + (await inserted(b)) - before).toBe(2);

    const entries = await waitFor(
      async () => {
        const found = (await adminLog('quiet')).filter((e) => e.action === 'retention.update');
        return found.length > 0 ? found : undefined;
      },
      15_000,
      'the CLI change in the admin log',
      200,
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actorType: 'cli',
      outcome: 'success',
      metadata: { days: 0, previousDays: 30 },
    });
  });

  it('fails with the right exit codes, never cutting piped output', async () => {
    const bad = await cli([
      'retention',
      'set',
      '--config',
      cliConfig,
      '--org',
      'acme',
      '--days',
      '36500',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--days');
    const unknown = await cli(['apikey', 'revoke', '--config', cliConfig, '0123456789abcdef']);
    expect(unknown.code).toBe(1);
    const list = await cli(['apikey', 'list', '--config', cliConfig, '--format', 'json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);
    const log = await cli(['admin-log', '--url', a.url, '--api-key', adminKey, '--format', 'json']);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout.trimEnd().split('\n').length).toBeGreaterThan(2);
  });
});
