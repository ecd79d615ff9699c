import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@connlog/metrics';
import { startNatsServer, waitFor, type NatsServer } from '@connlog/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APIKEY_BUCKET,
  AuthError,
  authenticate,
  authorize,
  createApiKeys,
  parseKey,
  type ApiKeys,
} from '../../src/auth/index.js';

/** API keys in a real nats-server's KV, shared by two independent collectors. */

const log = pino({ level: 'silent' });
let nats: NatsServer;
const connections: NatsConnection[] = [];
let a: ApiKeys;
let b: ApiKeys;
const registryA = new Registry();

async function keysOnNewConnection(registry?: Registry): Promise<ApiKeys> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  return createApiKeys({ nc, log, ...(registry ? { registry } : {}) });
}

beforeAll(async () => {
  nats = await startNatsServer();
  a = await keysOnNewConnection(registryA);
  b = await keysOnNewConnection();
});

afterAll(async () => {
  await a.close();
  await b.close();
  for (const nc of connections) await nc.close();
  await nats.remove();
});

describe('API keys in NATS KV', () => {
  it('a key created on one collector verifies on another; a wrong secret fails', async () => {
    const created = await a.create({
      role: 'auditor',
      org: 'acme',
      name: 'audit 2030',
      createdBy: 'cli:root',
    });
    expect(created.key).toMatch(/^clk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(parseKey(created.key)?.id).toBe(created.id);
    // The creating collector accepts it at once.
    expect(a.verify(created.key)).toEqual({
      kind: 'api_key',
      keyId: created.id,
      name: 'audit 2030',
      role: 'auditor',
      org: 'acme',
    });
    const principal = await waitFor(() => b.verify(created.key), 5000, 'the key to verify on b');
    expect(principal.role).toBe('auditor');
    expect(authorize(principal, { org: 'acme', action: 'export' })).toBe('ok');
    expect(authorize(principal, { org: 'globex', action: 'read' })).toBe('forbidden');

    const parsed = parseKey(created.key);
    const wrong = `clk_${created.id}_${(parsed?.secret ?? '').replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`;
    expect(b.verify(wrong)).toBeUndefined();
    expect(b.check(wrong)).toEqual({ ok: false, reason: 'bad_secret' });
    expect(b.check(`clk_ffffffffffffffff_${parsed?.secret ?? ''}`)).toEqual({
      ok: false,
      reason: 'unknown_key',
    });
    expect(b.check('Bearer nonsense')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('stores only a hash; list shows no secret', async () => {
    const created = await a.create({ role: 'admin', org: '*', name: 'ops' });
    const secret = parseKey(created.key)?.secret ?? 'missing';
    const nc = connections[0];
    if (!nc) throw new Error('no connection');
    const kv = await new Kvm(nc).open(APIKEY_BUCKET);
    const entry = await kv.get(created.id);
    const text = entry?.string() ?? '';
    expect(text).toContain('"hash":"sha256:');
    expect(text).not.toContain(secret);
    await waitFor(() => b.get(created.id), 5000, 'the key to reach b');
    const listed = JSON.stringify(b.list());
    expect(listed).toContain(created.id);
    expect(listed).not.toContain(secret);
    expect(listed).not.toContain('sha256');
  });

  it('revocation on one collector stops the key on the other', async () => {
    const created = await a.create({ role: 'admin', org: 'acme', name: 'to revoke' });
    await waitFor(() => b.verify(created.key), 5000, 'the key to reach b');
    const revoked = await b.revoke(created.id);
    expect(revoked).toMatchObject({ id: created.id, name: 'to revoke' });
    expect(b.verify(created.key)).toBeUndefined();
    await waitFor(() => a.verify(created.key) === undefined, 5000, 'the revocation to reach a');
    expect(a.get(created.id)).toBeUndefined();
    await expect(b.revoke(created.id)).rejects.toMatchObject({ code: 'APIKEY_NOT_FOUND' });
    await expect(b.revoke('nope')).rejects.toMatchObject({ code: 'APIKEY_INVALID' });
  });

  it('authenticates HTTP requests by Bearer, Basic and X-ClickHouse-Key', async () => {
    const created = await a.create({ role: 'auditor', org: '*', name: 'sql' });
    const basic = `Basic ${Buffer.from(`${created.id}:${created.key}`).toString('base64')}`;
    for (const headers of [
      { authorization: `Bearer ${created.key}` },
      { authorization: basic },
      { 'x-clickhouse-user': created.id, 'x-clickhouse-key': created.key },
    ]) {
      expect(authenticate({ headers }, a).keyId).toBe(created.id);
    }
    expect(() => authenticate({ headers: {} }, a)).toThrow(AuthError);
    expect(registryA.render()).toMatch(/connlog_collector_auth_checks_total\{result="ok"\} \d+/);
  });

  it('refuses bad create input naming the field', async () => {
    await expect(a.create({ role: 'root' as 'admin', org: 'acme', name: 'x' })).rejects.toThrow(
      /role must be/,
    );
    await expect(a.create({ role: 'admin', org: 'a.b', name: 'x' })).rejects.toThrow(/org must be/);
    await expect(a.create({ role: 'admin', org: 'acme', name: '' })).rejects.toThrow(
      /name must be/,
    );
  });

  it('keeps following changes after the NATS server restarts', async () => {
    const before = await a.create({ role: 'auditor', org: 'acme', name: 'before restart' });
    await waitFor(() => b.verify(before.key), 5000, 'the key to reach b');
    await nats.restart();
    // The local copies answer while NATS is away and after it is back.
    expect(b.verify(before.key)?.keyId).toBe(before.id);
    const after = await waitFor(
      () => a.create({ role: 'auditor', org: 'acme', name: 'after restart' }),
      20_000,
      'NATS to take writes again',
    );
    await waitFor(() => b.verify(after.key), 20_000, 'a key made after the restart to reach b');
    await a.revoke(before.id);
    await waitFor(() => b.verify(before.key) === undefined, 20_000, 'the revocation to reach b');
  });

  it('a collector started later knows every key at once', async () => {
    const c = await keysOnNewConnection();
    const ids = a
      .list()
      .map((k) => k.id)
      .sort();
    expect(
      c
        .list()
        .map((k) => k.id)
        .sort(),
    ).toEqual(ids);
    await c.close();
    await c.close();
    await expect(c.create({ role: 'admin', org: '*', name: 'late' })).rejects.toMatchObject({
      code: 'APIKEY_CLOSED',
    });
  });
});
