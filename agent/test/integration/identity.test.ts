import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Registry } from '@connlog/metrics';
import { CloseReason, EventKind, ipToBytes, type SessionEvent } from '@connlog/proto';
import { startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError, createAgent, parseConfig, type Agent } from '../../src/index.js';
import { encodeProxyV1, encodeProxyV2 } from '../../src/identity/index.js';
import {
  createSessionsStream,
  exchange,
  payload,
  startTarget,
  StreamReader,
  type TargetServer,
} from './harness.js';

describe('identity: PROXY protocol and peer map through the real proxies', () => {
  let nats: NatsServer;
  let reader: StreamReader;
  let echo: TargetServer;
  let udpEcho: UdpSocket;
  let udpEchoPort = 0;
  const dir = tempDir('agent-identity');
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    await createSessionsStream(nats.url);
    reader = new StreamReader(nats);
    // Echoes, then ends its side when the client ends: a request/response target.
    echo = await startTarget((socket) => socket.pipe(socket));
    udpEcho = createSocket('udp4');
    udpEcho.on('message', (msg, rinfo) => udpEcho.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => udpEcho.bind(0, '127.0.0.1', resolve));
    udpEchoPort = udpEcho.address().port;
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    udpEcho.close();
    await echo.close();
    await reader.close();
    await nats.remove();
    dir.remove();
  });

  async function agentFor(
    resources: Record<string, unknown>[],
    extra: Record<string, unknown> = {},
    registry = new Registry(),
  ): Promise<{ agent: Agent; ports: number[] }> {
    const config = parseConfig({
      org: 'acme',
      site: 'berlin',
      nats: { servers: [nats.url] },
      spool: { dir: join(dir.path, resources.map((r) => String(r.id)).join('-')), kind: 'memory' },
      publish: { flushInterval: '50ms' },
      http: { listen: '' },
      resources: resources.map((r) => ({
        protocol: 'tcp',
        listen: '127.0.0.1:0',
        target: `127.0.0.1:${echo.port}`,
        ...r,
      })),
      ...extra,
    });
    const agent = createAgent(config, { registry });
    await agent.start();
    cleanups.push(() => agent.close());
    const ports = agent.status().resources.map((r) => Number(r.listen.split(':').at(-1)));
    return { agent, ports };
  }

  async function sessions(resourceId: string, count: number): Promise<SessionEvent[][]> {
    return waitFor(
      async () => {
        const events = await reader.events(resourceId);
        const ends = events.filter((e) => e.kind === EventKind.END);
        if (ends.length < count) return undefined;
        return ends.map((end) => events.filter((e) => e.sessionId === end.sessionId));
      },
      20_000,
      `${count} ended session(s) on ${resourceId}`,
    );
  }

  function byKind(events: SessionEvent[], kind: EventKind): SessionEvent {
    const found = events.find((e) => e.kind === kind);
    if (found === undefined) throw new Error(`no ${EventKind[kind]} event`);
    return found;
  }

  /** Send bytes as they are (header included), half-close, collect the answer. */
  function raw(port: number, chunks: Buffer[]): Promise<{ received: Buffer; ending: string }> {
    return new Promise((resolve) => {
      const socket: Socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      const got: Buffer[] = [];
      let settled = false;
      const done = (ending: string): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        resolve({ received: Buffer.concat(got), ending });
      };
      socket.on('data', (chunk: Buffer) => got.push(chunk));
      socket.on('end', () => done('end'));
      socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
      socket.on('close', () => done('close'));
      socket.on('connect', () => {
        void (async () => {
          for (const chunk of chunks) {
            socket.write(chunk);
            await new Promise((r) => setTimeout(r, 5));
          }
          socket.end();
        })();
      });
    });
  }

  const body = payload(70_001);

  it('v1 header: the real source is recorded from START on, the header is not counted', async () => {
    const { ports } = await agentFor([
      { id: 'v1', proxyProtocol: { mode: 'required', trustedCidrs: ['127.0.0.0/8'] } },
    ]);
    const header = encodeProxyV1({
      family: 'tcp4',
      sourceAddress: '192.0.2.10',
      sourcePort: 56324,
      destAddress: '198.51.100.5',
      destPort: 443,
    });
    // Header and first bytes in one write: the bytes after the header are stream data.
    const { received, ending } = await raw(ports[0] ?? 0, [Buffer.concat([header, body])]);
    expect(ending).toBe('end');
    expect(received.equals(body)).toBe(true);
    const [events = []] = await sessions('v1', 1);
    for (const kind of [EventKind.START, EventKind.END]) {
      expect(byKind(events, kind)).toMatchObject({
        sourceIp: ipToBytes('192.0.2.10'),
        sourcePort: 56324,
        clientId: '',
        userId: '',
      });
    }
    expect(byKind(events, EventKind.END)).toMatchObject({
      closeReason: CloseReason.CLIENT_CLOSED,
      bytesTx: body.length,
      bytesRx: body.length,
      packetsTx: 0,
      packetsRx: 0,
    });
  });

  it('v2 header split over many writes, with identity TLVs and CRC32C', async () => {
    const registry = new Registry();
    const { ports } = await agentFor(
      [{ id: 'v2', proxyProtocol: { mode: 'required', trustedCidrs: ['127.0.0.1'] } }],
      {},
      registry,
    );
    const header = encodeProxyV2({
      family: 'tcp6',
      sourceAddress: '2001:db8::7',
      sourcePort: 41000,
      destAddress: '2001:db8::1',
      destPort: 5432,
      clientId: 'laptop-ana',
      userId: 'ana@example.com',
      crc32c: true,
    });
    const chunks = [header.subarray(0, 5), header.subarray(5, 20), header.subarray(20), body];
    const { received } = await raw(ports[0] ?? 0, chunks);
    expect(received.length).toBe(body.length);
    const [events = []] = await sessions('v2', 1);
    expect(byKind(events, EventKind.START)).toMatchObject({
      sourceIp: ipToBytes('2001:db8::7'),
      sourcePort: 41000,
      clientId: 'laptop-ana',
      userId: 'ana@example.com',
    });
    expect(byKind(events, EventKind.END)).toMatchObject({ bytesTx: body.length });
    expect(registry.render()).toContain(
      'connlog_agent_proxy_headers_total{resource="v2",version="2"} 1',
    );
  });

  it('refuses and records: untrusted, malformed, missing and late headers', async () => {
    const registry = new Registry();
    const { ports } = await agentFor(
      [
        { id: 'untrusted', proxyProtocol: { mode: 'required', trustedCidrs: ['10.9.0.0/24'] } },
        { id: 'optuntrusted', proxyProtocol: { mode: 'optional', trustedCidrs: ['10.9.0.0/24'] } },
        { id: 'malformed', proxyProtocol: { mode: 'required', trustedCidrs: ['127.0.0.1'] } },
        { id: 'missing', proxyProtocol: { mode: 'required', trustedCidrs: ['127.0.0.1'] } },
        {
          id: 'late',
          proxyProtocol: { mode: 'required', trustedCidrs: ['127.0.0.1'], headerTimeout: '200ms' },
        },
      ],
      {},
      registry,
    );
    const before = echo.received.length;
    const header = encodeProxyV2({
      family: 'tcp4',
      sourceAddress: '203.0.113.9',
      sourcePort: 1234,
      destAddress: '10.0.0.5',
      destPort: 5432,
      userId: 'mallory',
    });
    const cases: [string, number, Buffer[], string][] = [
      ['untrusted', ports[0] ?? 0, [header, body], 'proxy_header_untrusted'],
      ['optuntrusted', ports[1] ?? 0, [header, body], 'proxy_header_untrusted'],
      [
        'malformed',
        ports[2] ?? 0,
        [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n')],
        'proxy_header_malformed',
      ],
      ['missing', ports[3] ?? 0, [Buffer.from('GET / HTTP/1.0\r\n\r\n')], 'proxy_header_missing'],
    ];
    for (const [id, port, chunks, error] of cases) {
      const { received } = await raw(port, chunks);
      expect(received.length, id).toBe(0);
      const [events = []] = await sessions(id, 1);
      expect(events.map((e) => e.kind)).toEqual([EventKind.START, EventKind.END]);
      expect(byKind(events, EventKind.END), id).toMatchObject({
        closeReason: CloseReason.ERROR,
        error,
        sourceIp: Uint8Array.of(127, 0, 0, 1),
        userId: '',
        bytesTx: 0,
        bytesRx: 0,
      });
    }
    // A client that connects and waits: the header timeout ends it.
    const idle = connect({ host: '127.0.0.1', port: ports[4] ?? 0 });
    idle.on('error', () => undefined);
    cleanups.push(() => {
      idle.destroy();
    });
    const [late = []] = await sessions('late', 1);
    expect(byKind(late, EventKind.END)).toMatchObject({
      closeReason: CloseReason.ERROR,
      error: 'proxy_header_timeout',
    });
    // None of them reached the target.
    expect(echo.received.length).toBe(before);
    const metrics = registry.render();
    expect(metrics).toContain(
      'connlog_agent_proxy_header_rejected_total{resource="untrusted",reason="proxy_header_untrusted"} 1',
    );
    expect(metrics).toContain(
      'connlog_agent_proxy_header_rejected_total{resource="late",reason="proxy_header_timeout"} 1',
    );
  });

  it('optional mode: no header is proxied as is; data + FIN in one go still works', async () => {
    const { ports } = await agentFor([
      { id: 'optional', proxyProtocol: { mode: 'optional', trustedCidrs: ['127.0.0.1'] } },
    ]);
    const plain = await exchange(ports[0] ?? 0, body);
    expect(plain.received.equals(body)).toBe(true);
    const header = encodeProxyV1({
      family: 'tcp4',
      sourceAddress: '192.0.2.77',
      sourcePort: 777,
      destAddress: '10.0.0.5',
      destPort: 5432,
    });
    const small = Buffer.from('ping');
    const withHeader = await exchange(ports[0] ?? 0, Buffer.concat([header, small]));
    expect(withHeader.received.toString()).toBe('ping');
    const all = await sessions('optional', 2);
    const ends = all.map((events) => byKind(events, EventKind.END));
    expect(ends.map((e) => e.bytesTx).sort((a, b) => a - b)).toEqual([4, body.length]);
    expect(ends.find((e) => e.bytesTx === 4)).toMatchObject({
      sourceIp: ipToBytes('192.0.2.77'),
      sourcePort: 777,
      closeReason: CloseReason.CLIENT_CLOSED,
    });
  });

  it('UDP: a v2 header on every datagram; flows keyed by the real source; replies without header', async () => {
    const registry = new Registry();
    const { ports } = await agentFor(
      [
        {
          id: 'udppp',
          protocol: 'udp',
          target: `127.0.0.1:${udpEchoPort}`,
          idleTimeout: '300ms',
          proxyProtocol: { mode: 'required', trustedCidrs: ['127.0.0.1'] },
        },
      ],
      {},
      registry,
    );
    const port = ports[0] ?? 0;
    const edge = createSocket('udp4');
    const replies: Buffer[] = [];
    edge.on('message', (msg) => replies.push(msg));
    await new Promise<void>((resolve) => edge.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      edge.close();
    });
    const headerFor = (sourcePort: number, userId?: string): Buffer =>
      encodeProxyV2({
        family: 'udp4',
        sourceAddress: '198.51.100.20',
        sourcePort,
        destAddress: '10.0.0.53',
        destPort: 53,
        userId,
      });
    const query = payload(40);
    // Two real clients behind one edge socket, two datagrams each, and one without a header.
    edge.send(Buffer.concat([headerFor(5001, 'alice'), query]), port, '127.0.0.1');
    edge.send(Buffer.concat([headerFor(5002), query]), port, '127.0.0.1');
    edge.send(Buffer.concat([headerFor(5001, 'ignored-later'), query]), port, '127.0.0.1');
    edge.send(Buffer.concat([headerFor(5002), query]), port, '127.0.0.1');
    edge.send(query, port, '127.0.0.1');
    await waitFor(() => replies.length === 4, 10_000, 'four replies');
    for (const reply of replies) expect(reply.equals(query)).toBe(true);
    const flows = await sessions('udppp', 3);
    const ends = flows.map((events) => byKind(events, EventKind.END));
    const a = ends.find((e) => e.sourcePort === 5001);
    const b = ends.find((e) => e.sourcePort === 5002);
    expect(a).toMatchObject({
      sourceIp: ipToBytes('198.51.100.20'),
      userId: 'alice',
      closeReason: CloseReason.IDLE_TIMEOUT,
      bytesTx: 80,
      bytesRx: 80,
      packetsTx: 2,
      packetsRx: 2,
    });
    expect(b).toMatchObject({ userId: '', bytesTx: 80, packetsTx: 2, packetsRx: 2 });
    // The datagram without a header was refused and recorded once.
    const refused = ends.find((e) => e.closeReason === CloseReason.ERROR);
    expect(refused).toMatchObject({
      error: 'proxy_header_missing',
      sourcePort: edge.address().port,
      bytesTx: 0,
      packetsTx: 0,
    });
    expect(registry.render()).toContain(
      'connlog_agent_proxy_headers_total{resource="udppp",version="2"} 4',
    );
  });

  it('UDP: an untrusted sender is recorded once, however many datagrams it sends', async () => {
    const registry = new Registry();
    const { ports } = await agentFor(
      [
        {
          id: 'udpuntrusted',
          protocol: 'udp',
          target: `127.0.0.1:${udpEchoPort}`,
          idleTimeout: '5s',
          proxyProtocol: { mode: 'required', trustedCidrs: ['10.9.0.0/24'] },
        },
      ],
      {},
      registry,
    );
    const sender = createSocket('udp4');
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      sender.close();
    });
    for (let i = 0; i < 5; i += 1) sender.send(payload(10), ports[0] ?? 0, '127.0.0.1');
    await waitFor(
      () =>
        registry
          .render()
          .includes(
            'connlog_agent_proxy_header_rejected_total{resource="udpuntrusted",reason="proxy_header_untrusted"} 5',
          ),
      10_000,
      'five refusals counted',
    );
    const [events = []] = await sessions('udpuntrusted', 1);
    expect(byKind(events, EventKind.END)).toMatchObject({
      closeReason: CloseReason.ERROR,
      error: 'proxy_header_untrusted',
    });
    expect((await reader.events('udpuntrusted')).length).toBe(2);
  });

  it('peer map: attribution by source, reload changes new sessions only, bad file keeps the map', async () => {
    const file = join(dir.path, 'peers.yaml');
    writeFileSync(
      file,
      'peers:\n  - { cidr: 127.0.0.0/8, clientId: loopback-a, userId: a@example.com }\n',
    );
    const registry = new Registry();
    const { agent, ports } = await agentFor([{ id: 'peers' }], { peerMap: { file } }, registry);
    const port = ports[0] ?? 0;
    // A session open across the reload keeps the identity it took at accept.
    const long = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    await new Promise<void>((resolve) => long.once('connect', () => resolve()));
    long.write('x');
    await new Promise<void>((resolve) => long.once('data', () => resolve()));

    writeFileSync(file, 'peers:\n  - { cidr: 127.0.0.1/32, clientId: loopback-b }\n');
    expect(await agent.reloadPeerMap()).toBe(true);
    await exchange(port, Buffer.from('after'));
    writeFileSync(file, 'peers:\n  - { cidr: 127.0.0.1/33, clientId: broken }\n');
    expect(await agent.reloadPeerMap()).toBe(false);
    await exchange(port, Buffer.from('after-bad'));
    long.end();
    await new Promise<void>((resolve) => long.once('close', () => resolve()));

    const all = await sessions('peers', 3);
    const ends = all.map((events) => byKind(events, EventKind.END));
    const byBytes = (n: number) => ends.find((e) => e.bytesTx === n);
    expect(byBytes(1)).toMatchObject({ clientId: 'loopback-a', userId: 'a@example.com' });
    expect(byBytes(5)).toMatchObject({ clientId: 'loopback-b', userId: '' });
    expect(byBytes(9)).toMatchObject({ clientId: 'loopback-b', userId: '' });
    const metrics = registry.render();
    expect(metrics).toContain('connlog_agent_peer_map_reloads_total{outcome="ok"} 1');
    expect(metrics).toContain('connlog_agent_peer_map_reloads_total{outcome="failed"} 1');
    expect(metrics).toContain(`connlog_agent_peer_map_entries{file="${file}"} 1`);
  });

  it('a resource with its own peer map uses it; the others use the top-level one', async () => {
    const global = join(dir.path, 'global-peers.yaml');
    const own = join(dir.path, 'own-peers.yaml');
    writeFileSync(global, 'peers:\n  - { cidr: 127.0.0.1, clientId: from-global }\n');
    writeFileSync(own, 'peers:\n  - { cidr: 127.0.0.0/8, userId: from-own }\n');
    const { agent, ports } = await agentFor(
      [{ id: 'usesglobal' }, { id: 'usesown', peerMap: { file: own } }],
      { peerMap: { file: global } },
    );
    await exchange(ports[0] ?? 0, Buffer.from('a'));
    await exchange(ports[1] ?? 0, Buffer.from('b'));
    const endOf = async (id: string): Promise<SessionEvent> =>
      byKind((await sessions(id, 1))[0] ?? [], EventKind.END);
    const globalEnd = await endOf('usesglobal');
    const ownEnd = await endOf('usesown');
    expect(globalEnd).toMatchObject({ clientId: 'from-global', userId: '' });
    expect(ownEnd).toMatchObject({ clientId: '', userId: 'from-own' });
    expect(await agent.reloadPeerMap()).toBe(true);
  });

  it('a bad peer map at startup stops the agent, naming the file and entry', async () => {
    const file = join(dir.path, 'bad-peers.yaml');
    writeFileSync(file, 'peers:\n  - { cidr: 10.0.0.1/8, clientId: x }\n');
    const config = parseConfig({
      org: 'acme',
      site: 'berlin',
      nats: { servers: [nats.url] },
      spool: { dir: join(dir.path, 'bad'), kind: 'memory' },
      http: { listen: '' },
      peerMap: { file },
      resources: [
        { id: 'x', protocol: 'tcp', listen: '127.0.0.1:0', target: `127.0.0.1:${echo.port}` },
      ],
    });
    const agent = createAgent(config);
    const err = await agent.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await agent.close();
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('CONFIG_INVALID');
    expect((err as AgentError).message).toMatch(
      /^peerMap.file: .*bad-peers.yaml: peers\[0\].cidr: invalid CIDR "10.0.0.1\/8": host bits are set/,
    );
  });
});
