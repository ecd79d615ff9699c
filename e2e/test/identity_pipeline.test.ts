import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProxyV1, encodeProxyV2 } from '@connlog/agent';
import { freePort, waitFor } from '@connlog/testkit';
import { startStack, type AgentHandle, type CollectorHandle, type Stack } from './stack.js';
import { echoTarget, type Target } from './targets.js';
import { udpClient, udpEchoTarget, type UdpClient, type UdpTarget } from './udp_targets.js';

interface Row {
  session_id: string;
  protocol: string;
  source_ip: string;
  source_port: number;
  client_id: string;
  user_id: string;
  bytes_tx: string | number;
  bytes_rx: string | number;
  packets_tx: string | number;
  status: string;
  close_reason: string;
  error: string;
}

/** What a TCP client saw: everything it received, and its local port. */
interface Exchanged {
  received: Buffer;
  localPort: number;
}

/** Write `bytes` as they are (a PROXY header included), half-close, read to the end. */
function exchangeRaw(port: number, bytes: Buffer): Promise<Exchanged> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let localPort = 0;
    const done = (): void => {
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), localPort });
    };
    socket.on('connect', () => {
      localPort = socket.localPort ?? 0;
      socket.end(bytes);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', done);
    socket.on('error', done);
    socket.on('close', done);
  });
}

describe('identity: PROXY protocol and peer map through the real agent, rows in ClickHouse', () => {
  let stack: Stack;
  let collector: CollectorHandle;
  let agent: AgentHandle;
  let echo: Target;
  let udpEcho: UdpTarget;
  const clients: UdpClient[] = [];
  const ports: Record<string, number> = {};
  let peerDir = '';
  let peerFile = '';

  beforeAll(async () => {
    stack = await startStack('identity');
    collector = await stack.startCollector();
    echo = await echoTarget();
    udpEcho = await udpEchoTarget();
    for (const id of ['pp', 'untrusted', 'ppudp', 'peers']) ports[id] = await freePort();
    // The peer map is a symlink into another directory: the agent watches the link's
    // directory, so a replaced link is seen at once while an edit of the file it points
    // to is not — that one needs SIGHUP.
    peerDir = join(stack.dir, 'peers-data');
    mkdirSync(peerDir);
    writeFileSync(join(peerDir, 'v1.yaml'), peers('loopback-a', 'a@example.com'));
    // Its own directory: nothing else in it to make watch events.
    mkdirSync(join(stack.dir, 'peers-link'));
    peerFile = join(stack.dir, 'peers-link', 'peers.yaml');
    symlinkSync(join(peerDir, 'v1.yaml'), peerFile);
    const trusted = { mode: 'required', trustedCidrs: ['127.0.0.1'] };
    agent = await stack.startAgent(
      [
        tcp('pp', { proxyProtocol: trusted }),
        tcp('untrusted', { proxyProtocol: { mode: 'required', trustedCidrs: ['10.9.0.0/24'] } }),
        {
          id: 'ppudp',
          protocol: 'udp',
          listen: `127.0.0.1:${ports.ppudp ?? 0}`,
          target: `127.0.0.1:${udpEcho.port}`,
          idleTimeout: '500ms',
          proxyProtocol: trusted,
        },
        tcp('peers'),
      ],
      { peerMap: { file: peerFile } },
    );
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await stack.close();
    await echo.close();
    await udpEcho.close();
  });

  function tcp(id: string, extra: Record<string, unknown> = {}) {
    return {
      id,
      protocol: 'tcp' as const,
      listen: `127.0.0.1:${ports[id] ?? 0}`,
      target: `127.0.0.1:${echo.port}`,
      ...extra,
    };
  }

  function peers(clientId: string, userId?: string): string {
    const user = userId === undefined ? '' : `, userId: ${userId}`;
    return `peers:\n  - { cidr: 127.0.0.0/8, clientId: ${clientId}${user} }\n`;
  }

  async function rowsFor(resource: string, expected: number, where = ''): Promise<Row[]> {
    return waitFor(
      async () => {
        const rows = await collector.sql<Row>(
          `SELECT * FROM connlog.network_logs WHERE org_id = 'acme' AND resource_id = '${resource}' AND status = 'completed' ${where} FORMAT JSONEachRow`,
        );
        return rows.length >= expected ? rows : undefined;
      },
      30_000,
      `${expected} completed row(s) for ${resource}`,
      200,
    );
  }

  async function metric(line: string): Promise<void> {
    await waitFor(
      async () => (await (await fetch(`${agent.url}/metrics`)).text()).includes(line),
      10_000,
      `metric ${line}`,
      100,
    );
  }

  it('PROXY v1 and v2 (with TLVs) attribute source, client and user; headers are not counted', async () => {
    const body = Buffer.alloc(10_000, 0x5a);
    const v1 = encodeProxyV1({
      family: 'tcp4',
      sourceAddress: '192.0.2.10',
      sourcePort: 56324,
      destAddress: '198.51.100.5',
      destPort: 443,
    });
    const v2 = encodeProxyV2({
      family: 'tcp6',
      sourceAddress: '2001:db8::7',
      sourcePort: 41000,
      destAddress: '2001:db8::1',
      destPort: 5432,
      clientId: 'laptop-ana',
      userId: 'ana@example.com',
      crc32c: true,
    });
    const a = await exchangeRaw(ports.pp ?? 0, Buffer.concat([v1, body]));
    const b = await exchangeRaw(ports.pp ?? 0, Buffer.concat([v2, body.subarray(0, 777)]));
    expect(a.received.length).toBe(body.length);
    expect(b.received.length).toBe(777);
    const rows = await rowsFor('pp', 2);
    const byPort = new Map(rows.map((row) => [row.source_port, row]));
    expect(byPort.get(56324)).toMatchObject({
      source_ip: '::ffff:192.0.2.10',
      client_id: '',
      user_id: '',
      close_reason: 'client_closed',
    });
    expect(Number(byPort.get(56324)?.bytes_tx)).toBe(body.length);
    expect(Number(byPort.get(56324)?.bytes_rx)).toBe(body.length);
    expect(byPort.get(41000)).toMatchObject({
      source_ip: '2001:db8::7',
      client_id: 'laptop-ana',
      user_id: 'ana@example.com',
    });
    expect(Number(byPort.get(41000)?.bytes_tx)).toBe(777);
    expect(Number(byPort.get(41000)?.packets_tx)).toBe(0);
  });

  it('a header from an untrusted source is refused and recorded with error', async () => {
    const header = encodeProxyV2({
      family: 'tcp4',
      sourceAddress: '203.0.113.66',
      sourcePort: 6666,
      destAddress: '10.0.0.5',
      destPort: 5432,
      userId: 'mallory',
    });
    const result = await exchangeRaw(
      ports.untrusted ?? 0,
      Buffer.concat([header, Buffer.from('x')]),
    );
    expect(result.received.length).toBe(0);
    const [row] = await rowsFor('untrusted', 1);
    expect(row).toMatchObject({
      close_reason: 'error',
      error: 'proxy_header_untrusted',
      source_ip: '::ffff:127.0.0.1',
      source_port: result.localPort,
      // The header's identity is ignored; the socket peer's peer map entry applies.
      client_id: 'loopback-a',
      user_id: 'a@example.com',
    });
    expect(Number(row?.bytes_tx)).toBe(0);
    expect(Number(row?.bytes_rx)).toBe(0);
    await metric(
      'connlog_agent_proxy_header_rejected_total{resource="untrusted",reason="proxy_header_untrusted"} 1',
    );
  });

  it('UDP: a v2 header on each datagram gives the real source and identity of the flow', async () => {
    const edge = await udpClient();
    clients.push(edge);
    const header = encodeProxyV2({
      family: 'udp4',
      sourceAddress: '198.51.100.20',
      sourcePort: 5353,
      destAddress: '10.0.0.53',
      destPort: 53,
      clientId: 'resolver-7',
      userId: 'svc-dns',
    });
    const query = Buffer.from('what is db.internal?');
    edge.send(Buffer.concat([header, query]), ports.ppudp ?? 0);
    edge.send(Buffer.concat([header, query]), ports.ppudp ?? 0);
    await waitFor(() => edge.received.length === 2, 10_000, 'two replies');
    // Replies carry no header.
    expect(edge.received.every((reply) => reply.equals(query))).toBe(true);
    const [row] = await rowsFor('ppudp', 1);
    expect(row).toMatchObject({
      protocol: 'udp',
      source_ip: '::ffff:198.51.100.20',
      source_port: 5353,
      client_id: 'resolver-7',
      user_id: 'svc-dns',
      close_reason: 'idle_timeout',
    });
    expect(Number(row?.bytes_tx)).toBe(2 * query.length);
    expect(Number(row?.packets_tx)).toBe(2);
  });

  it('peer map: attribution by source; a reload (file replaced, then SIGHUP) changes new sessions only', async () => {
    const port = ports.peers ?? 0;
    // Open before any reload; closed at the end: keeps the identity it had at accept.
    const long: Socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    await new Promise<void>((resolve) => long.once('connect', () => resolve()));
    long.write('x');
    await new Promise<void>((resolve) => long.once('data', () => resolve()));
    const longPort = long.localPort ?? 0;
    const before = await exchangeRaw(port, Buffer.from('before'));

    // 1. The link is replaced (what config managers do): the watch reloads it.
    writeFileSync(join(peerDir, 'v2.yaml'), peers('loopback-b'));
    symlinkSync(join(peerDir, 'v2.yaml'), `${peerFile}.new`);
    renameSync(`${peerFile}.new`, peerFile);
    await metric('connlog_agent_peer_map_reloads_total{outcome="ok"} 1');
    const afterWatch = await exchangeRaw(port, Buffer.from('after watch'));

    // 2. The file behind the link is edited in place: not watched, so no change until SIGHUP.
    writeFileSync(join(peerDir, 'v2.yaml'), peers('loopback-c', 'c@example.com'));
    const notYet = await exchangeRaw(port, Buffer.from('not yet'));
    agent.daemon.process.kill('SIGHUP');
    await metric('connlog_agent_peer_map_reloads_total{outcome="ok"} 2');
    const afterHup = await exchangeRaw(port, Buffer.from('after sighup'));

    long.end();
    await new Promise<void>((resolve) => long.once('close', () => resolve()));
    const rows = await rowsFor('peers', 5);
    const byPort = new Map(rows.map((row) => [row.source_port, row]));
    const who = (p: number) => [byPort.get(p)?.client_id, byPort.get(p)?.user_id];
    expect(who(longPort)).toEqual(['loopback-a', 'a@example.com']);
    expect(who(before.localPort)).toEqual(['loopback-a', 'a@example.com']);
    expect(who(afterWatch.localPort)).toEqual(['loopback-b', '']);
    expect(who(notYet.localPort)).toEqual(['loopback-b', '']);
    expect(who(afterHup.localPort)).toEqual(['loopback-c', 'c@example.com']);
    expect(agent.daemon.output()).toContain('"trigger":"manual"');
    // The agent kept running through all of it (no session was dropped by a reload).
    expect(Number(byPort.get(longPort)?.bytes_tx)).toBe(1);
    expect(byPort.get(longPort)?.close_reason).toBe('client_closed');
  });
});
