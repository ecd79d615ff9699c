import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { blackHole, freePort, waitFor, type BlackHole } from '@connlog/testkit';
import { EventKind, Protocol, encodeBatch, ipToBytes, sessionsSubject } from '@connlog/proto';
import { exchange } from './client.js';
import { startStack, type AgentHandle, type CollectorHandle, type Stack } from './stack.js';
import { downloadTarget, echoTarget, uploadTarget, type Target } from './targets.js';

interface Row {
  session_id: string;
  resource_id: string;
  org_id: string;
  site_id: string;
  protocol: string;
  bytes_tx: string | number;
  bytes_rx: string | number;
  duration_ms: string | number;
  source_ip: string;
  source_port: number;
  dest_ip: string;
  dest_port: number;
  dest_host: string;
  status: string;
  close_reason: string;
  started_at: string;
  ended_at: string | null;
}

/**
 * Rows of the session a client opened at or after `since` from `port`: ephemeral ports are
 * reused across the hundreds of sessions in this file, so the port alone is ambiguous.
 */
function sessionOf(port: number, since: number): string {
  return `AND source_port = ${port} AND toUnixTimestamp64Milli(started_at) >= ${since}`;
}

const DOWNLOAD_BYTES = 3 * 1024 * 1024 + 17;
const UPLOAD_BYTES = 2 * 1024 * 1024 + 5;

describe('TCP pipeline: agent → NATS JetStream → collector → embedded ClickHouse', () => {
  let stack: Stack;
  let collector: CollectorHandle;
  let agent: AgentHandle;
  const targets: Target[] = [];
  let hole: BlackHole;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    stack = await startStack('tcp');
    collector = await stack.startCollector();
    const download = await downloadTarget(DOWNLOAD_BYTES);
    const upload = await uploadTarget();
    const echo = await echoTarget();
    targets.push(download, upload, echo);
    hole = await blackHole();
    const closedPort = await freePort();
    for (const id of ['download', 'upload', 'echo', 'closed', 'hole']) ports[id] = await freePort();
    agent = await stack.startAgent([
      r('download', `127.0.0.1:${download.port}`),
      r('upload', `127.0.0.1:${upload.port}`),
      r('echo', `localhost:${echo.port}`),
      r('closed', `127.0.0.1:${closedPort}`),
      { ...r('hole', `127.0.0.1:${hole.port}`), dialTimeout: '500ms' },
    ]);
  });

  function r(id: string, target: string) {
    return { id, protocol: 'tcp' as const, listen: `127.0.0.1:${ports[id] ?? 0}`, target };
  }

  afterAll(async () => {
    await stack.close();
    await Promise.all(targets.map((target) => target.close()));
    hole.close();
  });

  async function rowsFor(resource: string, expected: number, extraWhere = ''): Promise<Row[]> {
    return waitFor(
      async () => {
        const rows = await collector.sql<Row>(
          `SELECT * FROM connlog.network_logs WHERE org_id = 'acme' AND resource_id = '${resource}' ${extraWhere} FORMAT JSONEachRow`,
        );
        return rows.length >= expected ? rows : undefined;
      },
      30_000,
      `${expected} row(s) for resource ${resource}`,
      200,
    );
  }

  it('records a download and an upload with exact byte counts in both directions', async () => {
    const down = await exchange(ports.download ?? 0, Buffer.from('GET /file\n'));
    expect(down.received).toBe(DOWNLOAD_BYTES);
    const up = await exchange(ports.upload ?? 0, Buffer.alloc(UPLOAD_BYTES, 0x62));
    expect(up.data.toString()).toBe(String(UPLOAD_BYTES));

    const [downRow] = await rowsFor('download', 1, "AND status = 'completed'");
    expect(downRow).toBeDefined();
    expect(Number(downRow?.bytes_tx)).toBe(down.sent);
    expect(Number(downRow?.bytes_rx)).toBe(down.received);
    expect(downRow?.status).toBe('completed');
    expect(downRow?.protocol).toBe('tcp');
    expect(downRow?.site_id).toBe('berlin');
    expect(downRow?.source_ip).toBe('::ffff:127.0.0.1');
    expect(downRow?.source_port).toBe(down.localPort);
    expect(downRow?.dest_ip).toBe('::ffff:127.0.0.1');
    expect(downRow?.dest_port).toBe(targets[0]?.port);
    expect(downRow?.dest_host).toBe('127.0.0.1');
    expect(downRow?.ended_at).not.toBeNull();
    const duration =
      Date.parse(`${downRow?.ended_at ?? ''}Z`) - Date.parse(`${downRow?.started_at ?? ''}Z`);
    expect(Number(downRow?.duration_ms)).toBe(duration);
    expect(['client_closed', 'target_closed']).toContain(downRow?.close_reason);

    const [upRow] = await rowsFor('upload', 1, "AND status = 'completed'");
    expect(Number(upRow?.bytes_tx)).toBe(UPLOAD_BYTES);
    expect(Number(upRow?.bytes_rx)).toBe(String(UPLOAD_BYTES).length);
    // The client half-closed first; the target answered after that and closed its side.
    expect(upRow?.close_reason).toBe('client_closed');
  });

  it('stores exactly one row per session for 500 concurrent short sessions', async () => {
    const payloads = Array.from({ length: 500 }, (_, i) => Buffer.from(`hello ${i}\n`));
    const results = await Promise.all(payloads.map((p) => exchange(ports.echo ?? 0, p)));
    for (const [i, result] of results.entries()) expect(result.received).toBe(payloads[i]?.length);
    const rows = await rowsFor('echo', 500, "AND status = 'completed'");
    expect(rows).toHaveLength(500);
    expect(new Set(rows.map((row) => row.session_id)).size).toBe(500);
    const bySource = new Map(rows.map((row) => [row.source_port, row]));
    for (const [i, result] of results.entries()) {
      const row = bySource.get(result.localPort);
      expect(row, `row for client port ${result.localPort}`).toBeDefined();
      expect(Number(row?.bytes_tx)).toBe(payloads[i]?.length);
      expect(Number(row?.bytes_rx)).toBe(payloads[i]?.length);
      expect(row?.dest_host).toBe('localhost');
    }
    const [{ total } = { total: '0' }] = await collector.sql<{ total: string }>(
      "SELECT count() AS total FROM connlog.network_logs WHERE resource_id = 'echo' FORMAT JSONEachRow",
    );
    expect(Number(total)).toBe(500);
  });

  it('shows a long session as ongoing with growing counters, then completed', async () => {
    const { connect } = await import('node:net');
    const since = Date.now() - 5;
    const socket = connect({ host: '127.0.0.1', port: ports.echo ?? 0 });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let echoed = 0;
    socket.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
    });
    const localPort = socket.localPort ?? 0;
    const where = sessionOf(localPort, since);
    socket.write(Buffer.alloc(1000, 1));
    const first = await waitFor(
      async () => {
        const [row] = await collector.sql<Row>(
          `SELECT * FROM connlog.network_logs WHERE resource_id = 'echo' ${where} FORMAT JSONEachRow`,
        );
        return row && Number(row.bytes_tx) >= 1000 ? row : undefined;
      },
      30_000,
      'an UPDATE with the first 1000 bytes',
      200,
    );
    expect(first.status).toBe('ongoing');
    expect(first.ended_at).toBeNull();
    expect(first.close_reason).toBe('');
    socket.write(Buffer.alloc(4000, 2));
    const second = await waitFor(
      async () => {
        const [row] = await collector.sql<Row>(
          `SELECT * FROM connlog.network_logs WHERE resource_id = 'echo' ${where} FORMAT JSONEachRow`,
        );
        return row && Number(row.bytes_tx) >= 5000 ? row : undefined;
      },
      30_000,
      'an UPDATE with 5000 bytes',
      200,
    );
    expect(second.status).toBe('ongoing');
    expect(Number(second.bytes_tx)).toBe(5000);
    await waitFor(() => echoed === 5000, 10_000, 'the echo of 5000 bytes');
    socket.end();
    const [done] = await rowsFor('echo', 1, `${where} AND status = 'completed'`);
    expect(Number(done?.bytes_tx)).toBe(5000);
    expect(Number(done?.bytes_rx)).toBe(5000);
    expect(done?.close_reason).toBe('client_closed');
  });

  it('records a dial to a closed port as dial_failed and to a black hole as dial_timeout', async () => {
    const { connect } = await import('node:net');
    const attempt = (port: number) =>
      new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    await attempt(ports.closed ?? 0);
    await attempt(ports.hole ?? 0);
    const [failed] = await rowsFor('closed', 1, "AND status = 'completed'");
    expect(failed?.close_reason).toBe('dial_failed');
    expect(Number(failed?.bytes_tx)).toBe(0);
    const [timedOut] = await rowsFor('hole', 1, "AND status = 'completed'");
    expect(timedOut?.close_reason).toBe('dial_timeout');
  });

  it('does not store a batch whose org/site disagree with its subject, and keeps ingesting', async () => {
    const nc = await natsConnect({ servers: stack.nats.url });
    try {
      const js = jetstream(nc);
      const sessionId = '01936f1e-0000-7000-8000-000000000001';
      const payload = encodeBatch({
        agentId: 'intruder',
        batchSeq: 1,
        sentAtMs: Date.now(),
        orgId: 'evil',
        siteId: 'berlin',
        events: [
          {
            sessionId,
            kind: EventKind.START,
            seq: 1,
            orgId: 'evil',
            siteId: 'berlin',
            agentId: 'intruder',
            resourceId: 'db',
            protocol: Protocol.TCP,
            sourceIp: ipToBytes('10.0.0.1'),
            sourcePort: 1,
            destIp: ipToBytes('10.0.0.2'),
            destPort: 2,
            startedAtMs: Date.now(),
            eventAtMs: Date.now(),
          },
        ],
      });
      // Published on acme/berlin's subject, but claims org "evil".
      await js.publish(sessionsSubject('acme', 'berlin'), payload, { msgID: 'intruder:1' });
      await js.publish(sessionsSubject('acme', 'berlin'), new Uint8Array([1, 2, 3, 255]));
    } finally {
      await nc.close();
    }
    // Ingestion continues: a new real session after the bad batches is stored.
    const since = Date.now() - 5;
    const result = await exchange(ports.echo ?? 0, Buffer.from('after the bad batch'));
    await rowsFor('echo', 1, `${sessionOf(result.localPort, since)} AND status = 'completed'`);
    const rows = await collector.sql<{ n: string }>(
      "SELECT count() AS n FROM connlog.sessions WHERE org_id = 'evil' OR agent_id = 'intruder' FORMAT JSONEachRow",
    );
    expect(Number(rows[0]?.n)).toBe(0);
    expect(collector.daemon.process.exitCode).toBeNull();
  });

  it('keeps its data across a collector restart on the same data dir', async () => {
    const before = await collector.sql<{ n: string }>(
      'SELECT count() AS n FROM connlog.network_logs FORMAT JSONEachRow',
    );
    expect(Number(before[0]?.n)).toBeGreaterThan(500);
    expect(await collector.stop('SIGTERM')).toBe(0);
    collector = await stack.startCollector();
    const after = await collector.sql<{ n: string }>(
      'SELECT count() AS n FROM connlog.network_logs FORMAT JSONEachRow',
    );
    expect(after[0]?.n).toBe(before[0]?.n);
    // And it still ingests after the restart.
    const since = Date.now() - 5;
    const result = await exchange(ports.echo ?? 0, Buffer.from('after restart'));
    await rowsFor('echo', 1, `${sessionOf(result.localPort, since)} AND status = 'completed'`);
  });

  it('ends open sessions with agent_shutdown on SIGTERM and exits 0', async () => {
    const { connect } = await import('node:net');
    const since = Date.now() - 5;
    const socket = connect({ host: '127.0.0.1', port: ports.echo ?? 0 });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('still here');
    const localPort = socket.localPort ?? 0;
    await waitFor(
      async () =>
        (
          await collector.sql(
            `SELECT 1 FROM connlog.network_logs WHERE resource_id = 'echo' ${sessionOf(localPort, since)} FORMAT JSONEachRow`,
          )
        ).length === 1,
      30_000,
      'the open session to be stored',
      200,
    );
    expect(await agent.stop('SIGTERM')).toBe(0);
    const [row] = await rowsFor(
      'echo',
      1,
      `${sessionOf(localPort, since)} AND status = 'completed'`,
    );
    expect(row?.close_reason).toBe('agent_shutdown');
    expect(Number(row?.bytes_tx)).toBe('still here'.length);
  });
});
