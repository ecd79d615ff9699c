import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { freePort, waitFor } from '@connlog/testkit';
import { sessionsSubject } from '@connlog/proto';
import { exchange } from './client.js';
import { startStack, type CollectorHandle, type Stack } from './stack.js';
import { echoTarget, type Target } from './targets.js';

const SITE_PASS = 'site-secret';
const COLLECTOR_PASS = 'collector-secret';

/**
 * The accounts block of deploy/nats/nats-server.conf, exactly as shipped, with its
 * placeholder password hashes replaced by test passwords: this tests the permissions
 * operators deploy, not a copy of them.
 */
function deployedAccounts(): string {
  const file = fileURLToPath(new URL('../../deploy/nats/nats-server.conf', import.meta.url));
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('accounts {');
  expect(start, 'deploy/nats/nats-server.conf has an accounts block').toBeGreaterThan(0);
  let passwords = 0;
  return text.slice(start).replace(/password: "[^"]*"/g, (_match) => {
    passwords += 1;
    return `password: "${passwords === 1 ? SITE_PASS : COLLECTOR_PASS}"`;
  });
}

describe('deploy/nats/nats-server.conf: per-site users', () => {
  let stack: Stack;
  let collector: CollectorHandle;
  let target: Target;
  let proxyPort: number;

  beforeAll(async () => {
    stack = await startStack('nats-perms', { natsConfig: deployedAccounts() });
    const natsAuth = { user: 'connlog-collector', pass: COLLECTOR_PASS };
    collector = await stack.startCollector({ nats: { servers: [stack.nats.url], ...natsAuth } });
    target = await echoTarget();
    proxyPort = await freePort();
    await stack.startAgent(
      [
        {
          id: 'echo',
          protocol: 'tcp',
          listen: `127.0.0.1:${proxyPort}`,
          target: `127.0.0.1:${target.port}`,
        },
      ],
      {
        nats: {
          servers: [stack.nats.url],
          user: 'site-acme-berlin',
          pass: SITE_PASS,
          inboxPrefix: '_INBOX_acme_berlin',
        },
      },
    );
  });

  afterAll(async () => {
    await stack.close();
    await target.close();
  });

  it('lets a site publish its own sessions and the collector store them', async () => {
    const result = await exchange(proxyPort, Buffer.from('through the site user'));
    const rows = await waitFor(
      async () => {
        const found = await collector.sql<{ bytes_tx: number; status: string }>(
          `SELECT bytes_tx, status FROM connlog.network_logs WHERE source_port = ${result.localPort} AND status = 'completed' FORMAT JSONEachRow`,
        );
        return found.length === 1 ? found : undefined;
      },
      30_000,
      'the site user’s session in ClickHouse',
      200,
    );
    expect(Number(rows[0]?.bytes_tx)).toBe(result.sent);
  });

  it('refuses a site publishing as another site, or reading other inboxes', async () => {
    const nc = await natsConnect({
      servers: stack.nats.url,
      user: 'site-acme-berlin',
      pass: SITE_PASS,
      inboxPrefix: '_INBOX_acme_berlin',
    });
    try {
      const js = jetstream(nc, { timeout: 2000 });
      await expect(
        js.publish(sessionsSubject('acme', 'paris'), new Uint8Array([1])),
      ).rejects.toThrow();
      await expect(
        js.publish(sessionsSubject('other', 'berlin'), new Uint8Array([1])),
      ).rejects.toThrow();
      const denied = new Promise<string>((resolve) => {
        void (async () => {
          for await (const status of nc.status()) {
            if (status.type === 'error') resolve(String(status.error));
          }
        })();
      });
      nc.subscribe('_INBOX_collector.>');
      nc.subscribe('_INBOX.>');
      expect(await denied).toMatch(/permissions violation/i);
      // The stream API (listing, reading the stream) is not for sites either.
      await expect(
        nc.request('$JS.API.STREAM.INFO.CONNLOG_SESSIONS', undefined, { timeout: 1000 }),
      ).rejects.toThrow();
    } finally {
      await nc.close();
    }
  });

  it('refuses a wrong password', async () => {
    await expect(
      natsConnect({ servers: stack.nats.url, user: 'site-acme-berlin', pass: 'wrong' }),
    ).rejects.toThrow(/authorization/i);
  });
});
