import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { sessionsSubject } from '@connlog/proto';
import { startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { runAdminLog } from '../../src/cli/admin_log.js';
import { apikeyCreate, apikeyList, apikeyRevoke } from '../../src/cli/apikey.js';
import type { CliIo } from '../../src/cli/io.js';
import { retentionGet, retentionSet } from '../../src/cli/retention.js';
import { createCollector, type Collector } from '../../src/collector.js';
import type { CollectorConfig } from '../../src/config.js';
import { cliActor } from '../../src/control/cli_session.js';
import { runningConfig } from '../helpers/running.js';
import { batchBytes, sessionEvents } from '../helpers/events.js';

/**
 * API keys, the admin log and the CLI wired into a running collector with
 * `auth.enabled`, on a real nats-server and the real embedded ClickHouse. Keys are
 * bootstrapped with the CLI (`apikey create`, directly in NATS KV); every admin
 * action — through the API or the CLI, allowed, denied or failed — must show up in
 * `admin_actions` with the right actor and outcome.
 */

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const dir = tempDir('wiring-admin');
let nats: NatsServer;
let client: NatsConnection;
let config: CollectorConfig;
let collector: Collector;
let base: string;
/** Every full key created here: none may ever appear in the admin log. */
const secrets: string[] = [];

interface Captured {
  io: CliIo;
  out(): string;
  err(): string;
}

function capture(): Captured {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  return {
    io: {
      stdout: sink((t) => (out += t)),
      stderr: sink((t) => (err += t)),
    },
    out: () => out,
    err: () => err,
  };
}

async function createKey(
  role: string,
  org?: string,
  name?: string,
): Promise<{ id: string; key: string }> {
  const run = capture();
  const code = await apikeyCreate(
    config,
    { role, ...(org !== undefined ? { org } : {}), ...(name !== undefined ? { name } : {}) },
    run.io,
  );
  expect(code, run.err()).toBe(0);
  const lines = run.out().trimEnd().split('\n');
  const key = lines.at(-1) ?? '';
  expect(key).toMatch(/^clk_[0-9a-f]{16}_/);
  secrets.push(key);
  return { id: key.slice(4, 20), key };
}

interface Row {
  org_id: string;
  action: string;
  actor_type: string;
  actor: string;
  actor_id: string;
  outcome: string;
  metadata: string;
}

/** Waits for the admin log row matching `where` (SQL over admin_actions). */
async function adminRow(where: string, params: Record<string, unknown> = {}): Promise<Row> {
  return waitFor(
    async () => {
      const rows = await collector.store.query<Row>(
        `SELECT org_id, action, actor_type, actor, actor_id, outcome, metadata
         FROM connlog.admin_actions WHERE ${where} ORDER BY timestamp DESC LIMIT 1`,
        params,
      );
      return rows[0];
    },
    15_000,
    `an admin_actions row where ${where}`,
  );
}

function request(path: string, key: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key !== undefined) headers.set('authorization', `Bearer ${key}`);
  return fetch(`${base}${path}`, { ...init, headers });
}

function putRetention(org: string, days: number, key: string | undefined): Promise<Response> {
  return request(`/api/v1/orgs/${org}/retention`, key, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ days }),
  });
}

let admin: { id: string; key: string };
let auditor: { id: string; key: string };

beforeAll(async () => {
  nats = await startNatsServer();
  client = await connect({ servers: nats.url });
  config = runningConfig(dir.path, nats.url, {
    auth: { enabled: true },
    retention: { enforceInterval: 0 },
  });
  // The first key exists before any collector ran: the bootstrap.
  admin = await createKey('admin', undefined, 'bootstrap admin');
  collector = createCollector(config, { log });
  await collector.start();
  base = `http://${collector.httpAddress()}`;
  auditor = await createKey('auditor', 'acme', 'acme auditor');
});

afterAll(async () => {
  await collector.close();
  await client.close();
  await nats.remove();
  dir.remove();
});

describe('API keys and the admin log in a running collector', () => {
  it('records the bootstrap key, created before the collector ran, once it runs', async () => {
    const row = await adminRow(
      "action = 'apikey.create' AND actor_id != '' AND metadata LIKE {id:String}",
      {
        id: `%${admin.id}%`,
      },
    );
    const me = cliActor();
    expect(row).toMatchObject({
      org_id: '',
      actor_type: 'cli',
      actor: me.actor,
      actor_id: me.actorId,
      outcome: 'success',
    });
    expect(JSON.parse(row.metadata)).toMatchObject({
      keyId: admin.id,
      role: 'admin',
      scope: '*',
      name: 'bootstrap admin',
    });
    const scoped = await adminRow("action = 'apikey.create' AND org_id = 'acme'");
    expect(JSON.parse(scoped.metadata)).toMatchObject({ keyId: auditor.id, role: 'auditor' });
  });

  it('requires keys: none → 401, a bad one → 401', async () => {
    expect((await request('/api/v1/orgs/acme/retention', undefined)).status).toBe(401);
    expect((await request('/api/v1/orgs/acme/retention', 'clk_0000000000000000_x')).status).toBe(
      401,
    );
    expect((await request('/healthz', undefined)).status).toBe(200);
  });

  it('records a retention change through the API with the key as actor', async () => {
    const response = await putRetention('acme', 14, admin.key);
    expect(response.status).toBe(200);
    const row = await adminRow(
      "action = 'retention.update' AND actor_type = 'api_key' AND outcome = 'success'",
    );
    expect(row).toMatchObject({
      org_id: 'acme',
      actor: 'bootstrap admin',
      actor_id: admin.id,
    });
    expect(JSON.parse(row.metadata)).toMatchObject({ days: 14, previousDays: 30 });
  });

  it('refuses an auditor changing retention (403) and records the denied attempt', async () => {
    const response = await putRetention('acme', 1, auditor.key);
    expect(response.status).toBe(403);
    const row = await adminRow("action = 'retention.update' AND outcome = 'denied'");
    expect(row).toMatchObject({
      org_id: 'acme',
      actor_type: 'api_key',
      actor: 'acme auditor',
      actor_id: auditor.id,
    });
    // Nothing changed.
    const view = (await (await request('/api/v1/orgs/acme/retention', admin.key)).json()) as {
      days: number;
    };
    expect(view.days).toBe(14);
  });

  it('records an export with its filters and row count', async () => {
    const events = sessionEvents({ orgId: 'acme', siteId: 'berlin' });
    await jetstream(client).publish(
      sessionsSubject('acme', 'berlin'),
      batchBytes(events, { orgId: 'acme', siteId: 'berlin' }),
      { msgID: 'wiring-admin:1' },
    );
    await waitFor(
      async () => {
        const rows = await collector.store.query<{ n: number }>(
          "SELECT count() AS n FROM connlog.network_logs WHERE org_id = 'acme'",
        );
        return rows[0]?.n === 1;
      },
      15_000,
      'the session to be stored',
    );
    const response = await request(
      '/api/v1/orgs/acme/network-logs/export?protocol=tcp',
      auditor.key,
    );
    expect(response.status).toBe(200);
    const csv = await response.text();
    expect(csv.trimEnd().split(/\r?\n/)).toHaveLength(2);
    const row = await adminRow("action = 'logs.export'");
    expect(row).toMatchObject({ org_id: 'acme', actor_id: auditor.id, outcome: 'success' });
    expect(JSON.parse(row.metadata)).toMatchObject({ filters: { protocol: ['tcp'] }, rows: 1 });
  });

  it('records a SQL query, and refuses a key scoped to one org on the SQL endpoint', async () => {
    const ok = await request('/sql?default_format=JSONEachRow', admin.key, {
      method: 'POST',
      body: 'SELECT 41 + 1 AS answer',
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('42');
    const row = await adminRow("action = 'sql.query' AND outcome = 'success'");
    expect(row).toMatchObject({ actor_type: 'api_key', actor_id: admin.id });
    expect(JSON.parse(row.metadata)).toMatchObject({ query: 'SELECT 41 + 1 AS answer' });

    const denied = await request('/sql', auditor.key, { method: 'POST', body: 'SELECT 1' });
    expect(denied.status).toBe(403);
    const deniedRow = await adminRow("action = 'sql.query' AND outcome = 'denied'");
    expect(deniedRow.actor_id).toBe(auditor.id);
  });

  it('records a retention change made with the CLI, which the collector applies', async () => {
    const run = capture();
    expect(await retentionSet(config, 'globex', '3', run.io), run.err()).toBe(0);
    expect(run.out()).toContain('globex: 3 days (was 30 days)');
    const row = await adminRow("action = 'retention.update' AND actor_type = 'cli'");
    expect(row).toMatchObject({ org_id: 'globex', outcome: 'success', actor: cliActor().actor });
    expect(JSON.parse(row.metadata)).toMatchObject({ days: 3, previousDays: 30 });
    await waitFor(
      async () => {
        const response = await request('/api/v1/orgs/globex/retention', admin.key);
        return ((await response.json()) as { days: number }).days === 3;
      },
      10_000,
      'the collector to use globex = 3',
    );
    const get = capture();
    expect(await retentionGet(config, 'globex', 'json', get.io)).toBe(0);
    expect(JSON.parse(get.out())).toMatchObject({ org: 'globex', days: 3, source: 'org' });
    // Bad input is a usage error naming the flag, and changes nothing.
    const bad = capture();
    expect(await retentionSet(config, 'globex', '36500', bad.io)).toBe(2);
    expect(bad.err()).toContain('--days');
  });

  it('revokes a key with the CLI: recorded, and refused by the collector within a second or so', async () => {
    const doomed = await createKey('auditor', 'acme', 'short-lived');
    await waitFor(
      async () => (await request('/api/v1/orgs/acme/admin-actions', doomed.key)).status === 200,
      10_000,
      'the new key to work',
    );
    const list = capture();
    expect(await apikeyList(config, 'json', list.io)).toBe(0);
    const keys = JSON.parse(list.out()) as { id: string }[];
    expect(keys.map((k) => k.id)).toEqual(
      expect.arrayContaining([admin.id, auditor.id, doomed.id]),
    );
    expect(list.out()).not.toContain('sha256');

    const run = capture();
    expect(await apikeyRevoke(config, doomed.id, run.io), run.err()).toBe(0);
    await waitFor(
      async () => (await request('/api/v1/orgs/acme/admin-actions', doomed.key)).status === 401,
      10_000,
      'the revoked key to be refused',
    );
    const row = await adminRow("action = 'apikey.revoke' AND outcome = 'success'");
    expect(row).toMatchObject({ org_id: 'acme', actor_type: 'cli' });
    expect(JSON.parse(row.metadata)).toMatchObject({ keyId: doomed.id });

    // Revoking it again fails, and the failed attempt is recorded too.
    const again = capture();
    expect(await apikeyRevoke(config, doomed.id, again.io)).toBe(1);
    const failed = await adminRow("action = 'apikey.revoke' AND outcome = 'error'");
    expect(JSON.parse(failed.metadata)).toMatchObject({ keyId: doomed.id });
  });

  it('serves the log to the admin-log command: filters, JSON lines, CSV', async () => {
    const json = capture();
    const code = await runAdminLog(
      { url: base, apiKey: admin.key, org: '*', outcome: ['denied'], limit: 100, format: 'json' },
      json.io,
    );
    expect(code, json.err()).toBe(0);
    const entries = json
      .out()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { action: string; outcome: string; actorId: string });
    expect(entries.length).toBeGreaterThanOrEqual(2);
    expect(entries.every((e) => e.outcome === 'denied')).toBe(true);
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(['retention.update', 'sql.query']),
    );

    const csv = capture();
    expect(
      await runAdminLog(
        {
          url: base,
          apiKey: auditor.key,
          org: 'acme',
          action: ['retention.update'],
          limit: 100,
          format: 'csv',
        },
        csv.io,
      ),
    ).toBe(0);
    const lines = csv.out().trimEnd().split(/\r?\n/);
    expect(lines[0]).toBe('timestamp,org_id,action,actor_type,actor,actor_id,outcome,metadata');
    expect(lines.slice(1).every((line) => line.includes(',acme,retention.update,'))).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(3);

    // An org-scoped key cannot read every org: the command says why and fails.
    const refused = capture();
    expect(
      await runAdminLog(
        { url: base, apiKey: auditor.key, org: '*', limit: 10, format: 'table' },
        refused.io,
      ),
    ).toBe(1);
    expect(refused.err()).toContain('403');
  });

  it('never stores a key in the admin log', async () => {
    const rows = await collector.store.query<{ metadata: string; actor: string; actor_id: string }>(
      'SELECT metadata, actor, actor_id FROM connlog.admin_actions',
    );
    expect(rows.length).toBeGreaterThan(8);
    const text = JSON.stringify(rows);
    for (const key of secrets) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(21));
    }
  });
});
