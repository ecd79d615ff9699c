import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { CloseReason, EventKind } from '@connlog/proto';
import { freePort, startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, parseConfig } from '../../src/index.js';
import {
  createSessionsStream,
  exchange,
  holdEchoSession,
  startTarget,
  StreamReader,
  type TargetServer,
} from './harness.js';
import { AGENT_BIN, spawnAgent, writeConfig } from './process.js';

describe('agent lifecycle: real processes, signals, crashes, NATS outages', () => {
  let nats: NatsServer;
  let reader: StreamReader;
  let echo: TargetServer;
  const dir = tempDir('agent-lifecycle');
  const sockets: Socket[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    await createSessionsStream(nats.url);
    reader = new StreamReader(nats);
    echo = await startTarget((socket) => {
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => socket.end());
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await echo.close();
    await reader.close();
    await nats.remove();
    dir.remove();
  });

  async function baseConfig(id: string, extra: Record<string, unknown> = {}) {
    const listen = `127.0.0.1:${await freePort()}`;
    const http = `127.0.0.1:${await freePort()}`;
    const config = {
      org: 'acme',
      site: 'berlin',
      nats: { servers: [nats.url] },
      spool: { dir: join(dir.path, id) },
      shutdownGrace: '300ms',
      publish: { flushInterval: '50ms' },
      http: { listen: http },
      log: { level: 'info' },
      resources: [{ id, protocol: 'tcp', listen, target: `127.0.0.1:${echo.port}` }],
      ...extra,
    };
    return { config, listen, http, file: writeConfig(join(dir.path, `${id}.yaml`), config) };
  }

  /** Open a session to `listen`, echo `bytes` through it, leave it open. */
  async function openSession(listen: string, bytes: number): Promise<Socket> {
    const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
    return (await holdEchoSession(port, bytes, sockets)).socket;
  }

  it('refuses an invalid config naming the key, with exit code 2', async () => {
    const { config } = await baseConfig('invalid');
    const file = writeConfig(join(dir.path, 'invalid-bad.yaml'), {
      ...config,
      resources: [
        ...config.resources,
        { id: 'web', protocol: 'tcp', listen: 'x', target: '127.0.0.1:1' },
      ],
    });
    const result = spawnSync(process.execPath, [AGENT_BIN, 'run', '--config', file], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      'connlog-agent: invalid config: resources[1].listen: expected host:port, got "x"\n',
    );
  });

  it('SIGTERM: ends the open session with agent_shutdown and exits 0', async () => {
    const { listen, http, file } = await baseConfig('sigterm');
    const agent = await spawnAgent(file, http);
    const socket = await openSession(listen, 10);
    const clientClosed = new Promise((resolve) => socket.once('close', resolve));
    await waitFor(async () => (await reader.events('sigterm')).length > 0, 10_000, 'START');
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    await clientClosed;
    const end = await waitFor(
      async () => (await reader.events('sigterm')).find((e) => e.kind === EventKind.END),
      10_000,
      'END in the stream',
    );
    expect(end).toMatchObject({
      closeReason: CloseReason.AGENT_SHUTDOWN,
      bytesTx: 10,
      bytesRx: 10,
      seq: 2,
    });
    expect(agent.output()).toMatch(/"msg":"agent stopped"/);
  });

  it('kill -9 with an open session: the restart ends it with agent_restart', async () => {
    const { listen, http, file, config } = await baseConfig('crash', { updateInterval: '200ms' });
    const first = await spawnAgent(file, http);
    await openSession(listen, 10);
    const update = await waitFor(
      async () =>
        (await reader.events('crash')).find((e) => e.kind === EventKind.UPDATE && e.bytesTx === 10),
      10_000,
      'an UPDATE with the echoed bytes',
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const journalFile = join(config.spool.dir, 'open-sessions.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { sessions: unknown[] };
    expect(journal.sessions).toHaveLength(1);

    const second = await spawnAgent(file, http);
    const end = await waitFor(
      async () => (await reader.events('crash')).find((e) => e.kind === EventKind.END),
      10_000,
      'the agent_restart END',
    );
    const events = await reader.events('crash');
    const last = events
      .filter((e) => e.sessionId === end.sessionId && e.kind !== EventKind.END)
      .at(-1);
    if (last === undefined) throw new Error('no event before the END');
    expect(end).toMatchObject({
      sessionId: update.sessionId,
      closeReason: CloseReason.AGENT_RESTART,
      seq: last.seq + 1,
      bytesTx: last.bytesTx,
      bytesRx: last.bytesRx,
      endedAtMs: last.eventAtMs,
    });
    await waitFor(
      () =>
        (JSON.parse(readFileSync(journalFile, 'utf8')) as { sessions: unknown[] }).sessions
          .length === 0,
      10_000,
      'the journal to be cleared',
    );
    // Same agent id across the restart; batch sequences keep increasing.
    const batches = (await reader.batchesSoFar()).filter((b) =>
      b.batch.events.some((e) => e.resourceId === 'crash'),
    );
    expect(new Set(batches.map((b) => b.batch.agentId)).size).toBe(1);
    const seqs = batches.map((b) => b.batch.batchSeq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('proxies while NATS is down and delivers the events once it is back', async () => {
    const outage = await startNatsServer();
    await createSessionsStream(outage.url);
    const outageReader = new StreamReader(outage);
    try {
      await outage.stop();
      const config = parseConfig({
        org: 'acme',
        site: 'berlin',
        nats: { servers: [outage.url] },
        spool: { dir: join(dir.path, 'outage') },
        publish: { flushInterval: '50ms' },
        http: { listen: '' },
        resources: [
          {
            id: 'outage',
            protocol: 'tcp',
            listen: '127.0.0.1:0',
            target: `127.0.0.1:${echo.port}`,
          },
        ],
      });
      const agent = createAgent(config);
      await agent.start();
      try {
        const listen = agent.status().resources[0]?.listen ?? '';
        const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
        const result = await exchange(port, Buffer.alloc(5000, 2));
        expect(result.received.length).toBe(5000);
        expect(agent.status().nats.connected).toBe(false);
        await waitFor(
          () => agent.status().spool.batches > 0,
          10_000,
          'batches to wait in the spool',
        );
        await outage.restart();
        const end = await waitFor(
          async () => (await outageReader.events('outage')).find((e) => e.kind === EventKind.END),
          30_000,
          'the END after NATS came back',
        );
        expect(end).toMatchObject({
          bytesTx: 5000,
          bytesRx: 5000,
          closeReason: CloseReason.CLIENT_CLOSED,
        });
        await waitFor(() => agent.status().spool.batches === 0, 10_000, 'the spool to drain');
      } finally {
        await agent.close();
      }
    } finally {
      await outageReader.close();
      await outage.remove();
    }
  });
});
