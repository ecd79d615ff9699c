import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { CloseReason, EventKind } from '@connlog/proto';
import { freePort, startNatsServer, tempDir, waitFor, type NatsServer } from '@connlog/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSessionsStream,
  exchange,
  holdEchoSession,
  startTarget,
  StreamReader,
  type TargetServer,
} from './harness.js';
import { AGENT_BIN, spawnAgent, writeConfig, type AgentProcess } from './process.js';

/** The pids the agent's process logged as "worker listening", in order. */
function workerPids(agent: AgentProcess): number[] {
  return agent
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"worker listening"'))
    .map((line) => (JSON.parse(line) as { workerPid: number }).workerPid);
}

async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

describe('agent with worker processes (workers: 2): real processes, NATS, sockets', () => {
  let nats: NatsServer;
  let reader: StreamReader;
  let echo: TargetServer;
  const dir = tempDir('agent-workers');
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

  async function config(id: string) {
    const listen = `127.0.0.1:${await freePort()}`;
    const http = `127.0.0.1:${await freePort()}`;
    const file = writeConfig(join(dir.path, `${id}.yaml`), {
      org: 'acme',
      site: 'berlin',
      workers: 2,
      nats: { servers: [nats.url] },
      spool: { dir: join(dir.path, id) },
      updateInterval: '200ms',
      shutdownGrace: '300ms',
      publish: { flushInterval: '50ms' },
      http: { listen: http },
      log: { level: 'info' },
      resources: [{ id, protocol: 'tcp', listen, target: `127.0.0.1:${echo.port}` }],
    });
    return { listen, http, file, port: Number(listen.split(':')[1]) };
  }

  /** Open a session, echo `bytes` through it, leave it open. */
  async function openSession(port: number, bytes: number) {
    return { ...(await holdEchoSession(port, bytes, sockets)), bytes };
  }

  it('records every session once with exact bytes; a killed worker’s sessions end with agent_restart and a new worker takes over; SIGTERM ends the rest', async () => {
    const { http, file, port } = await config('pooled');
    const agent = await spawnAgent(file, http);
    expect(await metric(http, 'connlog_agent_workers_running')).toBe(2);
    const [firstPid, secondPid] = workerPids(agent);
    expect(firstPid).toBeGreaterThan(0);
    expect(secondPid).toBeGreaterThan(0);

    const open = [];
    for (let i = 0; i < 6; i += 1) open.push(await openSession(port, 100 + i));
    // Every session's counters have reached the stream in an UPDATE.
    const updated = await waitFor(
      async () => {
        const events = await reader.events('pooled');
        const ids = new Set(
          events
            .filter(
              (e) => e.kind === EventKind.UPDATE && e.bytesRx === e.bytesTx && e.bytesTx >= 100,
            )
            .map((e) => e.sessionId),
        );
        return ids.size === 6 ? events : undefined;
      },
      10_000,
      'an UPDATE with the echoed bytes of all six sessions',
    );
    expect(
      new Set(updated.filter((e) => e.kind === EventKind.START).map((e) => e.sessionId)).size,
    ).toBe(6);

    // Kill one worker: the sockets of its sessions close, and the agent ends them.
    process.kill(firstPid ?? 0, 'SIGKILL');
    const restarted = await waitFor(
      async () => {
        const ends = (await reader.events('pooled')).filter((e) => e.kind === EventKind.END);
        return ends.length > 0 ? ends : undefined;
      },
      10_000,
      'the agent_restart ENDs',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const killed = (await reader.events('pooled')).filter((e) => e.kind === EventKind.END);
    expect(killed.length).toBe(restarted.length);
    // Connections are dealt round-robin: the killed worker held some, not all.
    expect(killed.length).toBeGreaterThanOrEqual(1);
    expect(killed.length).toBeLessThanOrEqual(5);
    const events = await reader.events('pooled');
    for (const end of killed) {
      const before = events
        .filter((e) => e.sessionId === end.sessionId && e.kind !== EventKind.END)
        .at(-1);
      expect(end).toMatchObject({
        closeReason: CloseReason.AGENT_RESTART,
        seq: (before?.seq ?? 0) + 1,
        bytesTx: before?.bytesTx,
        bytesRx: before?.bytesRx,
        endedAtMs: before?.eventAtMs,
      });
    }
    // Each session echoed a different number of bytes: that tells whose END is whose.
    const endedBytes = new Set(killed.map((e) => e.bytesTx));
    const killedSockets = open.filter((s) => endedBytes.has(s.bytes));
    expect(killedSockets.length).toBe(killed.length);
    await Promise.all(killedSockets.map((s) => s.closed));

    // A new worker replaces it; new sessions work and the metrics count every process.
    await waitFor(() => workerPids(agent).length === 3, 15_000, 'a replacement worker');
    await waitFor(
      async () => (await metric(http, 'connlog_agent_workers_running')) === 2,
      10_000,
      'two workers running again',
    );
    expect(await metric(http, 'connlog_agent_worker_exits_total')).toBe(1);
    for (let i = 0; i < 4; i += 1) {
      const result = await exchange(port, Buffer.alloc(1000 + i, 3));
      expect(result.received.length).toBe(1000 + i);
    }
    await waitFor(
      async () => {
        const text = await (await fetch(`http://${http}/metrics`)).text();
        return text.includes('connlog_agent_sessions_started_total{resource="pooled"}');
      },
      5000,
      'session metrics',
    );

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    await Promise.all(open.map((s) => s.closed));
    const all = await waitFor(
      async () => {
        const list = await reader.events('pooled');
        const ends = list.filter((e) => e.kind === EventKind.END);
        return ends.length === 10 ? list : undefined;
      },
      10_000,
      'an END for each of the ten sessions',
    );
    const ends = all.filter((e) => e.kind === EventKind.END);
    expect(new Set(ends.map((e) => e.sessionId)).size).toBe(10);
    const shutdown = ends.filter((e) => e.closeReason === CloseReason.AGENT_SHUTDOWN);
    expect(shutdown.length).toBe(6 - killed.length);
    for (const end of shutdown) expect(end.bytesRx).toBe(end.bytesTx);
    const clean = ends.filter((e) => e.closeReason === CloseReason.CLIENT_CLOSED);
    expect(clean.map((e) => e.bytesTx).sort()).toEqual([1000, 1001, 1002, 1003]);
    // No session got two versions with the same seq.
    const versions = all.map((e) => `${e.sessionId}/${e.seq}`);
    expect(new Set(versions).size).toBe(versions.length);
    expect(agent.output()).toMatch(/"msg":"agent stopped"/);
  });

  it('a listener the workers cannot bind stops the start: exit 1 naming the resource, no worker left behind', async () => {
    const { file, port } = await config('taken');
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      // Synchronous: it returns once the agent has exited and its stdout is closed, which
      // a worker left running (it shares stdout) would hold open.
      const result = spawnSync(process.execPath, [AGENT_BIN, 'run', '--config', file], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.error).toBeUndefined();
      expect(result.status).toBe(1);
      expect(result.stdout).toMatch(
        /"err":"resource taken: cannot listen on 127\.0\.0\.1:\d+: bind EADDRINUSE[^"]*","code":"LISTEN_FAILED","msg":"agent failed to start"/,
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
