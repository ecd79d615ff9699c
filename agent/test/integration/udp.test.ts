import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { Registry } from '@connlog/metrics';
import { CloseReason, EventKind, Protocol, type SessionEvent } from '@connlog/proto';
import { freePort, startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, parseConfig, type Agent } from '../../src/index.js';
import { createSessionsStream, payload, StreamReader } from './harness.js';

describe('UDP proxy: a session per client flow', () => {
  let nats: NatsServer;
  let reader: StreamReader;
  let echo: Socket;
  let echoPort = 0;
  const dir = tempDir('agent-udp');
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    await createSessionsStream(nats.url);
    reader = new StreamReader(nats);
    echo = createSocket('udp4');
    echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
    echoPort = echo.address().port;
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    echo.close();
    await reader.close();
    await nats.remove();
    dir.remove();
  });

  async function agentFor(
    resource: Record<string, unknown>,
    extra: Record<string, unknown> = {},
    registry = new Registry(),
  ): Promise<{ agent: Agent; port: number }> {
    const config = parseConfig({
      org: 'acme',
      site: 'berlin',
      nats: { servers: [nats.url] },
      spool: { dir: join(dir.path, String(resource.id)) },
      publish: { flushInterval: '50ms' },
      http: { listen: '' },
      resources: [{ protocol: 'udp', listen: '127.0.0.1:0', idleTimeout: '300ms', ...resource }],
      ...extra,
    });
    const agent = createAgent(config, { registry });
    await agent.start();
    cleanups.push(() => agent.close());
    const listen = agent.status().resources[0]?.listen ?? '';
    return { agent, port: Number(listen.slice(listen.lastIndexOf(':') + 1)) };
  }

  async function client(): Promise<{ socket: Socket; received: Buffer[] }> {
    const socket = createSocket('udp4');
    const received: Buffer[] = [];
    socket.on('message', (msg) => received.push(msg));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      socket.close();
    });
    return { socket, received };
  }

  async function ends(resourceId: string, count: number): Promise<SessionEvent[]> {
    return waitFor(
      async () => {
        const found = (await reader.events(resourceId)).filter((e) => e.kind === EventKind.END);
        return found.length >= count ? found : undefined;
      },
      20_000,
      `${count} END events on ${resourceId}`,
    );
  }

  it('counts bytes and datagrams per flow to the byte and ends idle flows', async () => {
    const { port } = await agentFor({ id: 'echo', target: `127.0.0.1:${echoPort}` });
    const a = await client();
    const b = await client();
    const sizesA = [1, 512, 1400, 9000];
    const sizesB = [33, 65_000];
    for (const size of sizesA) a.socket.send(payload(size), port, '127.0.0.1');
    for (const size of sizesB) b.socket.send(payload(size), port, '127.0.0.1');
    await waitFor(
      () => a.received.length === sizesA.length && b.received.length === sizesB.length,
      10_000,
      'all echoes',
    );
    const [endA, endB] = await ends('echo', 2).then((found) =>
      [a, b].map((c) => found.find((e) => e.sourcePort === c.socket.address().port)),
    );
    const sum = (sizes: number[]): number => sizes.reduce((x, y) => x + y, 0);
    expect(endA).toMatchObject({
      protocol: Protocol.UDP,
      closeReason: CloseReason.IDLE_TIMEOUT,
      bytesTx: sum(sizesA),
      bytesRx: sum(sizesA),
      packetsTx: 4,
      packetsRx: 4,
      destPort: echoPort,
      destIp: Uint8Array.of(127, 0, 0, 1),
    });
    expect(endB).toMatchObject({
      bytesTx: sum(sizesB),
      bytesRx: sum(sizesB),
      packetsTx: 2,
      packetsRx: 2,
    });
    expect(endA?.sessionId).not.toBe(endB?.sessionId);
  });

  it('records an unreachable target (ICMP port unreachable) as dial_failed', async () => {
    const closedPort = await freePort();
    const { port } = await agentFor({ id: 'closed', target: `127.0.0.1:${closedPort}` });
    const c = await client();
    c.socket.send(payload(10), port, '127.0.0.1');
    const [end] = await ends('closed', 1);
    expect(end).toMatchObject({
      closeReason: CloseReason.DIAL_FAILED,
      bytesTx: 10,
      packetsTx: 1,
      bytesRx: 0,
    });
    expect(end?.error).toMatch(/ECONNREFUSED/);
  });

  it('ends a flow whose target went away after answering with reset (ICMP unreachable)', async () => {
    const once = createSocket('udp4');
    await new Promise<void>((resolve) => once.bind(0, '127.0.0.1', resolve));
    const oncePort = once.address().port;
    once.on('message', (msg, rinfo) => {
      // Answer the first datagram, then go away: later datagrams meet a closed port.
      once.send(msg, rinfo.port, rinfo.address, () => once.close());
    });
    const { port } = await agentFor({
      id: 'gone',
      target: `127.0.0.1:${oncePort}`,
      idleTimeout: '1h',
    });
    const c = await client();
    c.socket.send(payload(7), port, '127.0.0.1');
    await waitFor(() => c.received.length === 1, 10_000, 'the one answer');
    await waitFor(
      async () => {
        c.socket.send(payload(3), port, '127.0.0.1');
        return (await reader.events('gone')).some((e) => e.kind === EventKind.END);
      },
      10_000,
      'the flow to end',
    );
    const [end] = await ends('gone', 1);
    expect(end).toMatchObject({ closeReason: CloseReason.RESET, bytesRx: 7, packetsRx: 1 });
    expect(end?.error).toMatch(/^target: .*ECONNREFUSED/);
  });

  it('drops datagrams above maxDatagramBytes either way, uncounted in the session', async () => {
    const doubler = createSocket('udp4');
    doubler.on('message', (msg, rinfo) =>
      doubler.send(Buffer.concat([msg, msg]), rinfo.port, rinfo.address),
    );
    await new Promise<void>((resolve) => doubler.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      doubler.close();
    });
    const registry = new Registry();
    const { port } = await agentFor(
      { id: 'sized', target: `127.0.0.1:${doubler.address().port}`, maxDatagramBytes: 100 },
      {},
      registry,
    );
    const a = await client();
    const b = await client();
    b.socket.send(payload(101), port, '127.0.0.1'); // starts no flow
    a.socket.send(payload(40), port, '127.0.0.1'); // answer of 80 passes
    await waitFor(() => a.received.length === 1, 10_000, 'the 80-byte answer');
    a.socket.send(payload(60), port, '127.0.0.1'); // answer of 120 is dropped
    a.socket.send(payload(200), port, '127.0.0.1'); // dropped on the way in
    await waitFor(
      () =>
        registry
          .render()
          .includes(
            'connlog_agent_udp_datagrams_dropped_total{resource="sized",reason="too_large"} 3',
          ),
      10_000,
      'three drops counted',
    );
    const found = await ends('sized', 1);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      sourcePort: a.socket.address().port,
      bytesTx: 100,
      packetsTx: 2,
      bytesRx: 80,
      packetsRx: 1,
    });
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(0);
  });

  it('bounds flows: datagrams beyond maxFlows are dropped and counted', async () => {
    const registry = new Registry();
    const { port } = await agentFor(
      { id: 'bounded', target: `127.0.0.1:${echoPort}`, maxFlows: 1 },
      {},
      registry,
    );
    const a = await client();
    const b = await client();
    a.socket.send(payload(5), port, '127.0.0.1');
    await waitFor(() => a.received.length === 1, 10_000, 'the first flow’s echo');
    b.socket.send(payload(5), port, '127.0.0.1');
    await waitFor(
      () =>
        registry
          .render()
          .includes(
            'connlog_agent_udp_datagrams_dropped_total{resource="bounded",reason="flows_full"} 1',
          ),
      10_000,
      'the drop to be counted',
    );
    expect(b.received).toHaveLength(0);
  });

  it('ends open flows with agent_shutdown on close()', async () => {
    const { agent, port } = await agentFor(
      { id: 'shutdown', target: `127.0.0.1:${echoPort}`, idleTimeout: '1h' },
      { shutdownGrace: '100ms' },
    );
    const c = await client();
    c.socket.send(payload(20), port, '127.0.0.1');
    await waitFor(() => c.received.length === 1, 10_000, 'the echo');
    await agent.close();
    const [end] = await ends('shutdown', 1);
    expect(end).toMatchObject({
      closeReason: CloseReason.AGENT_SHUTDOWN,
      bytesTx: 20,
      bytesRx: 20,
    });
  });
});
