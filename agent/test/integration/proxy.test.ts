import { join } from 'node:path';
import { Registry } from '@connlog/metrics';
import { CloseReason, EventKind, sessionsSubject, type SessionEvent } from '@connlog/proto';
import {
  blackHole,
  freePort,
  startNatsServer,
  tempDir,
  waitFor,
  type NatsServer,
} from '@connlog/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, parseConfig, type Agent } from '../../src/index.js';
import {
  createSessionsStream,
  exchange,
  payload,
  startTarget,
  StreamReader,
  type TargetServer,
} from './harness.js';

const SIZE = 1024 * 1024 + 7;

describe('TCP proxy → recorder → JetStream', () => {
  let nats: NatsServer;
  let reader: StreamReader;
  const dir = tempDir('agent-proxy');
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    await createSessionsStream(nats.url);
    reader = new StreamReader(nats);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await reader.close();
    await nats.remove();
    dir.remove();
  });

  async function agentFor(
    resources: { id: string; target: string; dialTimeout?: string }[],
    extra: Record<string, unknown> = {},
    registry = new Registry(),
  ): Promise<Agent> {
    const config = parseConfig({
      org: 'acme',
      site: 'berlin',
      nats: { servers: [nats.url] },
      spool: { dir: join(dir.path, resources.map((r) => r.id).join('-')), kind: 'memory' },
      publish: { flushInterval: '50ms' },
      http: { listen: '127.0.0.1:0' },
      resources: resources.map((r) => ({ protocol: 'tcp', listen: '127.0.0.1:0', ...r })),
      ...extra,
    });
    const agent = createAgent(config, { registry });
    await agent.start();
    cleanups.push(() => agent.close());
    return agent;
  }

  async function target(onConnection: Parameters<typeof startTarget>[0]): Promise<TargetServer> {
    const server = await startTarget(onConnection);
    cleanups.push(() => server.close());
    return server;
  }

  function portOf(agent: Agent, index = 0): number {
    const listen = agent.status().resources[index]?.listen ?? '';
    return Number(listen.slice(listen.lastIndexOf(':') + 1));
  }

  async function endOf(resourceId: string): Promise<{ events: SessionEvent[]; end: SessionEvent }> {
    return waitFor(
      async () => {
        const events = await reader.events(resourceId);
        const end = events.find((e) => e.kind === EventKind.END);
        return end
          ? { events: events.filter((e) => e.sessionId === end.sessionId), end }
          : undefined;
      },
      20_000,
      `END of a session on ${resourceId}`,
    );
  }

  it('counts an upload of 1 MiB + 7 bytes to the byte', async () => {
    const sink = await target((socket) => socket.on('end', () => socket.end('ok\n')));
    const agent = await agentFor([{ id: 'upload', target: `127.0.0.1:${sink.port}` }]);
    const result = await exchange(portOf(agent), payload(SIZE));
    expect(result).toEqual({ received: Buffer.from('ok\n'), ending: 'end' });
    expect(sink.received).toEqual([SIZE]);
    const { events, end } = await endOf('upload');
    expect(events.map((e) => [e.kind, e.seq])).toEqual([
      [EventKind.START, 1],
      [EventKind.END, 2],
    ]);
    expect(end).toMatchObject({
      bytesTx: SIZE,
      bytesRx: 3,
      closeReason: CloseReason.CLIENT_CLOSED,
      orgId: 'acme',
      siteId: 'berlin',
      agentId: agent.status().agentId,
      destHost: '127.0.0.1',
      destPort: sink.port,
      sourceIp: Uint8Array.of(127, 0, 0, 1),
      error: '',
    });
    expect(end.destIp).toEqual(Uint8Array.of(127, 0, 0, 1));
    expect(end.sourcePort).toBeGreaterThan(0);
    expect(end.endedAtMs).toBeGreaterThanOrEqual(end.startedAtMs);
    const batches = await reader.batchesSoFar();
    const mine = batches.find((b) => b.batch.events.some((e) => e.sessionId === end.sessionId));
    expect(mine?.subject).toBe(sessionsSubject('acme', 'berlin'));
    expect(mine?.msgId).toBe(`${agent.status().agentId}:${mine?.batch.batchSeq}`);
  });

  it('counts a download of 1 MiB + 7 bytes to the byte', async () => {
    const source = await target((socket) => socket.end(payload(SIZE)));
    const agent = await agentFor([{ id: 'download', target: `127.0.0.1:${source.port}` }]);
    const result = await exchange(portOf(agent), Buffer.alloc(0), { endAfterSend: false });
    expect(result.ending).toBe('end');
    expect(result.received.equals(payload(SIZE))).toBe(true);
    const { end } = await endOf('download');
    expect(end).toMatchObject({
      bytesTx: 0,
      bytesRx: SIZE,
      closeReason: CloseReason.TARGET_CLOSED,
    });
  });

  it('carries a half-close: the target keeps sending after the client’s FIN', async () => {
    const chunk = payload(100_000);
    const server = await target((socket) => {
      socket.on('end', () => {
        // Answer only after the client's FIN, over several writes and turns.
        let sent = 0;
        const timer = setInterval(() => {
          socket.write(chunk);
          sent += 1;
          if (sent === 3) {
            clearInterval(timer);
            socket.end();
          }
        }, 20);
      });
    });
    const agent = await agentFor([{ id: 'halfclose', target: `127.0.0.1:${server.port}` }]);
    const result = await exchange(portOf(agent), Buffer.from('hello'));
    expect(result.ending).toBe('end');
    expect(result.received.length).toBe(300_000);
    expect(server.received).toEqual([5]);
    const { end } = await endOf('halfclose');
    expect(end).toMatchObject({
      bytesTx: 5,
      bytesRx: 300_000,
      closeReason: CloseReason.CLIENT_CLOSED,
    });
  });

  it('records a refused dial as a session: START then END dial_failed', async () => {
    const closedPort = await freePort();
    const agent = await agentFor([{ id: 'refused', target: `127.0.0.1:${closedPort}` }]);
    const result = await exchange(portOf(agent), Buffer.from('x'));
    expect(result.received.length).toBe(0);
    const { events, end } = await endOf('refused');
    expect(events.map((e) => e.kind)).toEqual([EventKind.START, EventKind.END]);
    expect(end).toMatchObject({
      seq: 2,
      closeReason: CloseReason.DIAL_FAILED,
      bytesTx: 0,
      bytesRx: 0,
      destPort: closedPort,
    });
    expect(end.error).toMatch(/ECONNREFUSED/);
  });

  it('ends a dial that gets no answer with dial_timeout', async () => {
    const hole = await blackHole();
    cleanups.push(() => hole.close());
    const agent = await agentFor([
      { id: 'blackhole', target: `127.0.0.1:${hole.port}`, dialTimeout: '300ms' },
    ]);
    const result = await exchange(portOf(agent), Buffer.alloc(0), { endAfterSend: false });
    expect(result.received.length).toBe(0);
    const { end } = await endOf('blackhole');
    expect(end.closeReason).toBe(CloseReason.DIAL_TIMEOUT);
    expect(end.error).toBe('no connection within 300 ms');
  });

  it('sends UPDATEs with growing counters during a long session', async () => {
    const server = await target((socket) => socket.on('end', () => socket.end()));
    const agent = await agentFor([{ id: 'long', target: `127.0.0.1:${server.port}` }], {
      updateInterval: '200ms',
    });
    const { connect } = await import('node:net');
    const socket = connect({ host: '127.0.0.1', port: portOf(agent) });
    await new Promise((resolve) => socket.once('connect', resolve));
    const writer = setInterval(() => socket.write(payload(1000)), 30);
    try {
      const updates = await waitFor(
        async () => {
          const events = (await reader.events('long')).filter((e) => e.kind === EventKind.UPDATE);
          return events.length >= 3 ? events : undefined;
        },
        20_000,
        'three UPDATE events',
      );
      const first = updates.slice(0, 3);
      expect(first.map((e) => e.seq)).toEqual([2, 3, 4]);
      const tx = first.map((e) => e.bytesTx);
      expect(tx[1]).toBeGreaterThan(tx[0] ?? Infinity);
      expect(tx[2]).toBeGreaterThan(tx[1] ?? Infinity);
      for (const update of first) {
        expect(update.endedAtMs).toBe(0);
        expect(update.closeReason).toBe(CloseReason.CLOSE_REASON_UNSPECIFIED);
      }
    } finally {
      clearInterval(writer);
    }
    socket.end();
    await waitFor(
      () => server.received[0] !== undefined && agent.status().sessions.open === 0,
      10_000,
      'session end',
    );
    const { end } = await endOf('long');
    expect(end.bytesTx).toBe(server.received[0]);
    expect(end.seq).toBeGreaterThan(4);
  });

  it('holds a fast target back while the client does not read, then delivers every byte', async () => {
    // Far more than the kernel buffers between target, agent and client can hold: the
    // target can only stay blocked short of the end if the agent stops reading it.
    const total = 64 * 1024 * 1024;
    const chunk = payload(64 * 1024);
    let offered = 0;
    let blocked = false;
    const source = await target((socket) => {
      const pump = (): void => {
        while (offered < total) {
          offered += chunk.length;
          if (!socket.write(chunk)) {
            blocked = true;
            socket.once('drain', () => {
              blocked = false;
              pump();
            });
            return;
          }
        }
        socket.end();
      };
      pump();
    });
    const agent = await agentFor([{ id: 'slowreader', target: `127.0.0.1:${source.port}` }]);
    const { connect } = await import('node:net');
    const socket = connect({ host: '127.0.0.1', port: portOf(agent) });
    socket.pause();
    let lastOffered = -1;
    await waitFor(
      () => {
        const still = blocked && offered === lastOffered;
        lastOffered = offered;
        return still;
      },
      20_000,
      'the target blocked by backpressure',
    );
    expect(offered).toBeLessThan(total);

    // Every byte arrives, in order: the stream is `chunk` repeated.
    let received = 0;
    let corrupt = false;
    socket.on('data', (data: Buffer) => {
      for (let i = 0; i < data.length;) {
        const at = (received + i) % chunk.length;
        const n = Math.min(data.length - i, chunk.length - at);
        if (!data.subarray(i, i + n).equals(chunk.subarray(at, at + n))) corrupt = true;
        i += n;
      }
      received += data.length;
    });
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.resume();
    await ended;
    socket.destroy();
    expect(received).toBe(total);
    expect(corrupt).toBe(false);
    const { end } = await endOf('slowreader');
    expect(end).toMatchObject({ bytesTx: 0, bytesRx: total });
  });

  it('records 300 concurrent sessions, each END exact', async () => {
    const server = await target((socket) => {
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => socket.end());
    });
    const agent = await agentFor([{ id: 'many', target: `127.0.0.1:${server.port}` }], {
      publish: { flushInterval: '50ms', maxBatchEvents: 64 },
    });
    const sizes = Array.from({ length: 300 }, (_, i) => 1 + ((i * 7919) % 20_000));
    const results = await Promise.all(sizes.map((size) => exchange(portOf(agent), payload(size))));
    expect(results.map((r) => r.received.length)).toEqual(sizes);
    const ends = await waitFor(
      async () => {
        const found = (await reader.events('many')).filter((e) => e.kind === EventKind.END);
        return found.length >= sizes.length ? found : undefined;
      },
      30_000,
      '300 END events',
    );
    expect(ends).toHaveLength(sizes.length);
    expect(new Set(ends.map((e) => e.sessionId)).size).toBe(sizes.length);
    expect(ends.map((e) => e.bytesTx).sort((a, b) => a - b)).toEqual(
      [...sizes].sort((a, b) => a - b),
    );
    for (const end of ends) {
      expect(end.bytesRx).toBe(end.bytesTx);
      expect(end.closeReason).toBe(CloseReason.CLIENT_CLOSED);
    }
  });

  it('serves /healthz and /metrics', async () => {
    const server = await target((socket) => socket.on('end', () => socket.end()));
    const registry = new Registry();
    const agent = await agentFor(
      [{ id: 'metrics', target: `127.0.0.1:${server.port}` }],
      {},
      registry,
    );
    await exchange(portOf(agent), payload(1234));
    await endOf('metrics');
    const http = agent.status().http;
    expect(http).toMatch(/^127\.0\.0\.1:\d+$/);
    const health = await waitFor(
      async () => {
        const body = (await (await fetch(`http://${http}/healthz`)).json()) as {
          ok: boolean;
          nats: { connected: boolean };
          spool: { batches: number };
        };
        return body.spool.batches === 0 ? body : undefined;
      },
      10_000,
      'an empty spool in /healthz',
    );
    expect(health).toMatchObject({ ok: true, nats: { connected: true } });
    const text = await (await fetch(`http://${http}/metrics`)).text();
    expect(text).toContain('connlog_agent_sessions_started_total{resource="metrics"} 1');
    expect(text).toContain(
      'connlog_agent_sessions_ended_total{resource="metrics",reason="client_closed"} 1',
    );
    expect(text).toContain('connlog_agent_bytes_total{resource="metrics",direction="tx"} 1234');
    expect(text).toContain('connlog_agent_sessions_open{resource="metrics"} 0');
    expect(text).toMatch(/connlog_agent_batches_published_total [1-9]/);
    expect(text).toMatch(/connlog_agent_events_published_total [2-9]/);
    expect(text).toContain('connlog_agent_spool_batches 0');
    expect((await fetch(`http://${http}/nope`)).status).toBe(404);
  });
});
