import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { cliActor } from '../../src/control/cli_session.js';
import { parseRelayed } from '../../src/control/relay.js';
import { createRetentionApplier } from '../../src/control/retention_apply.js';
import type { RetentionApplied } from '../../src/retention/index.js';

const log = pino({ level: 'silent' });
const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

const relayed = {
  id: '0b5264bf-3dcd-461c-a79b-927350000000',
  at: '2030-01-01T12:00:00.000Z',
  orgId: 'acme',
  action: 'retention.update',
  actor: 'alice',
  actorId: 'alice@host',
  outcome: 'success',
  metadata: { days: 7, previousDays: 30 },
};

describe('admin relay messages', () => {
  it('become CLI records carrying the relay id', () => {
    const record = parseRelayed(encode({ ...relayed, actorType: 'api_key' }));
    expect(record).toMatchObject({
      orgId: 'acme',
      action: 'retention.update',
      actorType: 'cli',
      actor: 'alice',
      actorId: 'alice@host',
      outcome: 'success',
      metadata: { days: 7, previousDays: 30, relayId: relayed.id },
    });
    expect(record.at?.toISOString()).toBe(relayed.at);
  });

  it.each([
    ['not JSON', new TextEncoder().encode('{')],
    ['an array', encode([])],
    ['an unknown action', encode({ ...relayed, action: 'drop.everything' })],
    ['an unknown outcome', encode({ ...relayed, outcome: 'maybe' })],
    ['a bad time', encode({ ...relayed, at: 'yesterday' })],
    ['metadata that is not an object', encode({ ...relayed, metadata: 'x' })],
    ['a missing actor', encode({ ...relayed, actor: undefined })],
  ])('are refused when they hold %s', (_, data) => {
    expect(() => parseRelayed(data)).toThrow();
  });
});

describe('retention applier', () => {
  it('gives the API the run the settings listener started, and starts a new one for another value', async () => {
    const calls: [string, number][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const applier = createRetentionApplier(
      {
        applyRetention: async (org, days): Promise<RetentionApplied> => {
          calls.push([org, days]);
          await gate;
          return { org, days, storedDays: days, partitionsRewritten: 0 };
        },
      },
      log,
    );
    applier.changed('acme', 7);
    const fromApi = applier.applyRetention('acme', 7);
    expect(calls).toEqual([['acme', 7]]);
    const other = applier.applyRetention('acme', 9);
    expect(calls).toEqual([
      ['acme', 7],
      ['acme', 9],
    ]);
    release();
    await expect(fromApi).resolves.toMatchObject({ days: 7 });
    await expect(other).resolves.toMatchObject({ days: 9 });
    await applier.settled();
    // Done runs are forgotten: the same value again is applied again.
    await applier.applyRetention('acme', 7);
    expect(calls).toHaveLength(3);
  });

  it('logs, not throws, when a background run fails', async () => {
    const applier = createRetentionApplier(
      { applyRetention: () => Promise.reject(new Error('ClickHouse refused')) },
      log,
    );
    applier.changed('acme', 7);
    await applier.settled();
    await expect(applier.applyRetention('acme', 7)).rejects.toThrow('ClickHouse refused');
  });
});

describe('cli helpers', () => {
  it('names the OS user as actor and user@host as its id', () => {
    const actor = cliActor();
    expect(actor.actor).not.toBe('');
    expect(actor.actorId.startsWith(`${actor.actor}@`)).toBe(true);
  });
});
