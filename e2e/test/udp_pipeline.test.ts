import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '@connlog/testkit';
import { startStack, type AgentHandle, type CollectorHandle, type Stack } from './stack.js';
import {
  DNS_ANSWER_EXTRA,
  dnsQuery,
  dnsTarget,
  udpClient,
  udpEchoTarget,
  type UdpClient,
  type UdpTarget,
} from './udp_targets.js';

interface Row {
  session_id: string;
  resource_id: string;
  protocol: string;
  source_ip: string;
  source_port: number;
  dest_ip: string;
  dest_port: number;
  bytes_tx: string | number;
  bytes_rx: string | number;
  packets_tx: string | number;
  packets_rx: string | number;
  status: string;
  close_reason: string;
  error: string;
  version: string | number;
  started_at: string;
  ended_at: string | null;
}

const FLOWS = 200;

describe('UDP pipeline: flows through the real agent, rows in ClickHouse', () => {
  let stack: Stack;
  let collector: CollectorHandle;
  let agent: AgentHandle;
  const targets: UdpTarget[] = [];
  const clients: UdpClient[] = [];
  const ports: Record<string, number> = {};
  let dnsPort = 0;

  beforeAll(async () => {
    stack = await startStack('udp');
    collector = await stack.startCollector();
    const dns = await dnsTarget();
    const echo = await udpEchoTarget();
    targets.push(dns, echo);
    dnsPort = dns.port;
    const closedPort = await freePort();
    for (const id of ['dns', 'many', 'long', 'bounded', 'closed']) ports[id] = await freePort();
    const udp = (id: string, target: string, extra: Record<string, unknown> = {}) => ({
      id,
      protocol: 'udp' as const,
      listen: `127.0.0.1:${ports[id] ?? 0}`,
      target,
      ...extra,
    });
    agent = await stack.startAgent(
      [
        udp('dns', `127.0.0.1:${dns.port}`, { idleTimeout: '500ms' }),
        udp('many', `127.0.0.1:${echo.port}`, { idleTimeout: '3s' }),
        udp('long', `127.0.0.1:${echo.port}`, { idleTimeout: '1s' }),
        udp('bounded', `127.0.0.1:${echo.port}`, { idleTimeout: '1500ms', maxFlows: 3 }),
        udp('closed', `127.0.0.1:${closedPort}`, { idleTimeout: '1s' }),
      ],
      { updateInterval: '300ms' },
    );
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await stack.close();
    await Promise.all(targets.map((target) => target.close()));
  });

  async function client(): Promise<UdpClient> {
    const c = await udpClient();
    clients.push(c);
    return c;
  }

  async function rows(resource: string, where = ''): Promise<Row[]> {
    return collector.sql<Row>(
      `SELECT * FROM connlog.network_logs WHERE org_id = 'acme' AND resource_id = '${resource}' ${where} FORMAT JSONEachRow`,
    );
  }

  async function completed(resource: string, expected: number, where = ''): Promise<Row[]> {
    return waitFor(
      async () => {
        const found = await rows(resource, `AND status = 'completed' ${where}`);
        return found.length >= expected ? found : undefined;
      },
      30_000,
      `${expected} completed row(s) for ${resource}`,
      200,
    );
  }

  it('a DNS-style request/response: exact bytes and packets, ended by idle_timeout', async () => {
    const c = await client();
    const query = dnsQuery(0x1234, 'db.internal.example');
    c.send(query, ports.dns ?? 0);
    await waitFor(() => c.received.length === 1, 10_000, 'the DNS answer');
    const answer = c.received[0] ?? Buffer.alloc(0);
    expect(answer.length).toBe(query.length + DNS_ANSWER_EXTRA);
    expect(answer.readUInt16BE(0)).toBe(0x1234);
    const [row] = await completed('dns', 1);
    expect(row).toMatchObject({
      protocol: 'udp',
      source_ip: '::ffff:127.0.0.1',
      source_port: c.port,
      dest_ip: '::ffff:127.0.0.1',
      dest_port: dnsPort,
      close_reason: 'idle_timeout',
      error: '',
    });
    expect(Number(row?.bytes_tx)).toBe(query.length);
    expect(Number(row?.bytes_rx)).toBe(answer.length);
    expect(Number(row?.packets_tx)).toBe(1);
    expect(Number(row?.packets_rx)).toBe(1);
    // Ended idleTimeout (500 ms) after the last datagram, at the earliest.
    const lasted = Date.parse(`${row?.ended_at ?? ''}Z`) - Date.parse(`${row?.started_at ?? ''}Z`);
    expect(lasted).toBeGreaterThanOrEqual(500);
  });

  it(`${FLOWS} concurrent flows from distinct source ports are ${FLOWS} sessions`, async () => {
    const many = await Promise.all(Array.from({ length: FLOWS }, () => client()));
    const first = (i: number) => Buffer.from(`query ${i}`);
    const second = (i: number) => Buffer.from(`query ${i} again`);
    // In waves, as clients do: a burst of hundreds of datagrams at once can overflow a
    // kernel receive buffer (the agent's or the echo target's) on a loaded host.
    const inWaves = async (datagram: (i: number) => Buffer, echoes: number): Promise<void> => {
      for (let start = 0; start < FLOWS; start += 50) {
        const wave = many.slice(start, start + 50);
        for (const [j, c] of wave.entries()) c.send(datagram(start + j), ports.many ?? 0);
        await waitFor(
          () => wave.every((c) => c.received.length === echoes),
          10_000,
          `echo ${echoes} of flows ${start}..${start + wave.length - 1}`,
        );
      }
    };
    await inWaves(first, 1);
    // All of them open at once (idleTimeout 3 s), each with its own socket.
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toContain(`connlog_agent_sessions_open{resource="many"} ${FLOWS}`);
    await inWaves(second, 2);
    const found = await completed('many', FLOWS);
    expect(found).toHaveLength(FLOWS);
    expect(new Set(found.map((row) => row.session_id)).size).toBe(FLOWS);
    const byPort = new Map(found.map((row) => [row.source_port, row]));
    for (const [i, c] of many.entries()) {
      const row = byPort.get(c.port);
      const sent = first(i).length + second(i).length;
      expect(row, `row of client port ${c.port}`).toBeDefined();
      expect(Number(row?.bytes_tx)).toBe(sent);
      expect(Number(row?.bytes_rx)).toBe(sent);
      expect(Number(row?.packets_tx)).toBe(2);
      expect(Number(row?.packets_rx)).toBe(2);
      expect(row?.close_reason).toBe('idle_timeout');
    }
  });

  it('a flow that keeps talking past several update intervals stays one session', async () => {
    const c = await client();
    const where = `AND source_port = ${c.port}`;
    let sent = 0;
    const tick = (): void => {
      c.send(Buffer.alloc(100, sent % 256), ports.long ?? 0);
      sent += 1;
    };
    tick();
    // 200 ms apart (idleTimeout is 1 s): never idle, while UPDATEs go out every 300 ms.
    const timer = setInterval(tick, 200);
    let ongoing: Row | undefined;
    try {
      ongoing = await waitFor(
        async () => {
          const [row] = await rows('long', where);
          return row && Number(row.version) >= 4 ? row : undefined;
        },
        30_000,
        'an ongoing row at version 4 or later',
        100,
      );
    } finally {
      clearInterval(timer);
    }
    expect(ongoing.status).toBe('ongoing');
    expect(ongoing.ended_at).toBeNull();
    expect(Number(ongoing.packets_tx)).toBeGreaterThan(1);
    await waitFor(() => c.received.length === sent, 10_000, 'every echo');
    const [done] = await completed('long', 1, where);
    expect(done?.session_id).toBe(ongoing.session_id);
    expect(done?.close_reason).toBe('idle_timeout');
    expect(Number(done?.version)).toBeGreaterThan(Number(ongoing.version));
    expect(Number(done?.bytes_tx)).toBe(sent * 100);
    expect(Number(done?.bytes_rx)).toBe(sent * 100);
    expect(Number(done?.packets_tx)).toBe(sent);
    expect(Number(done?.packets_rx)).toBe(sent);
    // One session in the table, whatever the number of versions stored.
    const [{ sessions } = { sessions: '0' }] = await collector.sql<{ sessions: string }>(
      `SELECT uniqExact(session_id) AS sessions FROM connlog.sessions WHERE resource_id = 'long' ${where} FORMAT JSONEachRow`,
    );
    expect(Number(sessions)).toBe(1);
  });

  it('past maxFlows the next flow is refused and counted; the open flows keep working', async () => {
    const open = await Promise.all([client(), client(), client()]);
    for (const c of open) c.send(Buffer.from('hello'), ports.bounded ?? 0);
    await waitFor(() => open.every((c) => c.received.length === 1), 10_000, 'three echoes');
    const refused = await client();
    refused.send(Buffer.from('let me in'), ports.bounded ?? 0);
    await waitFor(
      async () => {
        const metrics = await (await fetch(`${agent.url}/metrics`)).text();
        return metrics.includes(
          'connlog_agent_udp_datagrams_dropped_total{resource="bounded",reason="flows_full"} 1',
        );
      },
      10_000,
      'the refused flow to be counted',
      100,
    );
    for (const c of open) c.send(Buffer.from('still here'), ports.bounded ?? 0);
    await waitFor(() => open.every((c) => c.received.length === 2), 10_000, 'three more echoes');
    expect(refused.received).toHaveLength(0);
    const found = await completed('bounded', 3);
    expect(found).toHaveLength(3);
    expect(found.map((row) => row.source_port).sort()).toEqual(open.map((c) => c.port).sort());
    for (const row of found) {
      expect(Number(row.packets_tx)).toBe(2);
      expect(Number(row.bytes_tx)).toBe('hello'.length + 'still here'.length);
    }
    expect(agent.daemon.output()).toContain('"reason":"flows_full"');
  });

  it('a target port with nobody listening ends the flow with dial_failed (ICMP unreachable)', async () => {
    const c = await client();
    c.send(Buffer.from('anyone?'), ports.closed ?? 0);
    const [row] = await completed('closed', 1);
    expect(row?.close_reason).toBe('dial_failed');
    expect(row?.error).toMatch(/ECONNREFUSED/);
    expect(Number(row?.bytes_tx)).toBe(7);
    expect(Number(row?.packets_tx)).toBe(1);
    expect(Number(row?.packets_rx)).toBe(0);
  });
});
