/**
 * Shared pieces of the fault scenarios (fault_*.test.ts) and of the chaos benchmark
 * (bench/chaos.mjs runs those same files with more sessions): a paced traffic
 * generator of tagged TCP/UDP sessions through the agent, and the check that every
 * session a client completed is in `connlog.network_logs` exactly once with its
 * exact byte counts.
 *
 * The tag of a session is its payload length: every session of a scenario sends a
 * different number of bytes, and an echo target returns them, so a stored row is
 * matched to its client session by `(resource_id, bytes_tx)` (and its `source_port`
 * is checked too). Ports alone would not do: a scenario runs long enough for the
 * kernel to hand out a client port twice.
 */
import { appendFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect } from 'vitest';
import { freePort, waitFor } from '@connlog/testkit';
import {
  startStack,
  type AgentHandle,
  type AgentResource,
  type CollectorHandle,
  type Stack,
} from './stack.js';
import { echoTarget, udpEchoTarget, type Target, type UdpTarget } from './targets.js';

/** Sessions per scenario: a few hundred in tests, thousands under bench/chaos.mjs. */
export const SESSIONS = Number(process.env.CONNLOG_FAULT_SESSIONS ?? '300');
/** When set, each scenario appends its tally here as one JSON line (bench/chaos.mjs). */
const REPORT_FILE = process.env.CONNLOG_CHAOS_REPORT;
/** Smallest payload; tags count up from here. */
const FIRST_TAG = 1000;
/** How long a client waits for its echo before calling the session failed. */
const CLIENT_TIMEOUT_MS = 10_000;

export const TCP_RESOURCE = 'echo';
export const UDP_RESOURCE = 'uecho';

/** One client session as the client saw it. */
export interface ClientSession {
  protocol: 'tcp' | 'udp';
  resource: string;
  /** Payload length, unique in the scenario. */
  tag: number;
  sent: number;
  received: number;
  localPort: number;
  /** Epoch ms when the client saw its session complete (or fail). */
  endedAt: number;
  /** The client sent its payload, got all of it back, and saw a clean end. */
  ok: boolean;
}

/** The agent's resources for the scenarios: a TCP echo and a UDP echo target. */
export function faultResources(
  ports: { tcpListen: number; udpListen: number; tcpTarget: number; udpTarget: number },
  udpIdleTimeout = '1s',
): AgentResource[] {
  return [
    {
      id: TCP_RESOURCE,
      protocol: 'tcp',
      listen: `127.0.0.1:${ports.tcpListen}`,
      target: `127.0.0.1:${ports.tcpTarget}`,
    },
    {
      id: UDP_RESOURCE,
      protocol: 'udp',
      listen: `127.0.0.1:${ports.udpListen}`,
      target: `127.0.0.1:${ports.udpTarget}`,
      idleTimeout: udpIdleTimeout,
    },
  ];
}

/**
 * Collector settings of the scenarios: a short ack wait, so the messages a killed
 * collector held come back within seconds rather than a minute.
 */
export function faultCollector(stack: Stack): Record<string, unknown> {
  return {
    ingest: { flushInterval: '200ms' },
    nats: { servers: [stack.nats.url], consumer: { ackWait: '5s' } },
  };
}

/** A stack for one scenario: nats-server, a collector, an agent, echo targets. */
export interface FaultStack {
  stack: Stack;
  /** The current collector (replace it after a restart). */
  collector: CollectorHandle;
  /** The current agent (replace it after a restart). */
  agent: AgentHandle;
  resources: AgentResource[];
  tcpPort: number;
  udpPort: number;
  tags: Tags;
  /** Start an agent again on the same config, ports and spool (after a kill). */
  restartAgent(): Promise<AgentHandle>;
  /** Paced traffic: `SESSIONS / seconds` sessions a second. */
  traffic(seconds: number): Traffic;
  close(): Promise<void>;
}

export async function startFaultStack(name: string): Promise<FaultStack> {
  const stack = await startStack(name);
  const targets: (Target | UdpTarget)[] = [];
  try {
    const tcp = await echoTarget();
    targets.push(tcp);
    const udp = await udpEchoTarget();
    targets.push(udp);
    const tcpPort = await freePort();
    const udpPort = await freePort();
    const resources = faultResources({
      tcpListen: tcpPort,
      udpListen: udpPort,
      tcpTarget: tcp.port,
      udpTarget: udp.port,
    });
    const collector = await stack.startCollector(faultCollector(stack));
    const agent = await stack.startAgent(resources);
    const tags = new Tags();
    return {
      stack,
      collector,
      agent,
      resources,
      tcpPort,
      udpPort,
      tags,
      restartAgent: () => stack.startAgent(resources),
      traffic: (seconds) =>
        new Traffic({ tcpPort, udpPort, tags, rate: Math.max(1, SESSIONS / seconds) }),
      close: async () => {
        await stack.close();
        await Promise.all(targets.map((target) => target.close()));
      },
    };
  } catch (err) {
    await stack.close();
    await Promise.all(targets.map((target) => target.close()));
    throw err;
  }
}

/**
 * The scenario's stack, started in `beforeAll` and closed in `afterAll` (also when
 * starting it failed halfway). Call it in the `describe` block; tests, and `beforeAll`
 * hooks registered after it, get the stack from the returned function.
 */
export function useFaultStack(name: string): () => FaultStack {
  let started: FaultStack | undefined;
  beforeAll(async () => {
    started = await startFaultStack(name);
  });
  afterAll(async () => {
    await started?.close();
  });
  return () => {
    if (started === undefined) throw new Error(`the ${name} fault stack is not running`);
    return started;
  };
}

/** Hands out unique tags (payload lengths). */
export class Tags {
  private next = FIRST_TAG;
  take(): number {
    const tag = this.next;
    this.next += 1;
    return tag;
  }
}

/** A TCP session: send `tag` bytes, half-close, read the echo until the target ends. */
export function tcpSession(port: number, tag: number): Promise<ClientSession> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let received = 0;
    let localPort = 0;
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        protocol: 'tcp',
        resource: TCP_RESOURCE,
        tag,
        sent: tag,
        received,
        localPort,
        endedAt: Date.now(),
        ok: ok && received === tag,
      });
    };
    const timer = setTimeout(() => finish(false), CLIENT_TIMEOUT_MS);
    socket.on('connect', () => {
      localPort = socket.localPort ?? 0;
      socket.write(Buffer.alloc(tag, tag % 251), () => socket.end());
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on('end', () => finish(true));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

/**
 * A UDP session: one datagram of `tag` bytes, wait for its echo. The agent knows a
 * flow by the client's `address:port` and ends it `idleTimeout` after its last
 * datagram, so the socket stays bound for `holdMs` longer: a new client given the
 * same port too early would join the old flow (one session, two payloads).
 */
export function udpSession(port: number, tag: number, holdMs = 2500): Promise<ClientSession> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    let localPort = 0;
    let settled = false;
    const finish = (received: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      setTimeout(() => socket.close(), holdMs);
      resolve({
        protocol: 'udp',
        resource: UDP_RESOURCE,
        tag,
        sent: tag,
        received,
        localPort,
        endedAt: Date.now(),
        ok: received === tag,
      });
    };
    // A datagram lost while the agent is down is a failed session, not a hang.
    const timer = setTimeout(() => finish(0), 2000);
    socket.on('message', (message) => finish(message.length));
    socket.on('error', () => finish(0));
    socket.bind(0, '127.0.0.1', () => {
      localPort = socket.address().port;
      socket.send(Buffer.alloc(tag, tag % 251), port, '127.0.0.1');
    });
  });
}

export interface TrafficOptions {
  tcpPort: number;
  udpPort: number;
  tags: Tags;
  /** Sessions started per second. */
  rate: number;
  /** Every n-th session is UDP. @default 5 */
  udpEvery?: number;
  /** Bound on sessions in flight. @default 64 */
  maxInFlight?: number;
}

/**
 * Paced background traffic: `rate` sessions a second (at most `maxInFlight` at once)
 * until `stop()`, which waits for the sessions in flight and returns every session.
 */
export class Traffic {
  readonly sessions: ClientSession[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private started = 0;
  private credit = 0;

  constructor(private readonly opts: TrafficOptions) {
    const tickMs = 20;
    this.timer = setInterval(() => this.tick(tickMs), tickMs);
  }

  /** Sessions that ended (completed or failed). */
  get ended(): number {
    return this.sessions.length;
  }

  get completed(): number {
    return this.sessions.filter((session) => session.ok).length;
  }

  /** Wait until at least `count` sessions completed. */
  async untilCompleted(count: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(() => this.completed >= count, timeoutMs, `${count} completed sessions`, 50);
  }

  async stop(): Promise<ClientSession[]> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
    return this.sessions;
  }

  private tick(tickMs: number): void {
    const { rate, udpEvery = 5, maxInFlight = 64 } = this.opts;
    this.credit = Math.min(this.credit + (rate * tickMs) / 1000, rate);
    while (this.credit >= 1 && this.inFlight.size < maxInFlight) {
      this.credit -= 1;
      this.started += 1;
      const tag = this.opts.tags.take();
      const run =
        this.started % udpEvery === 0
          ? udpSession(this.opts.udpPort, tag)
          : tcpSession(this.opts.tcpPort, tag);
      const task = run.then((session) => {
        this.sessions.push(session);
        this.inFlight.delete(task);
      });
      this.inFlight.add(task);
    }
  }
}

/** A TCP session held open: it sent `tag` bytes and got them back. */
export interface OpenSession {
  socket: Socket;
  tag: number;
  localPort: number;
}

/** Open a TCP session, send `tag` bytes, wait for the echo, keep it open. */
export async function openSession(port: number, tag: number): Promise<OpenSession> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let echoed = 0;
  socket.on('data', (chunk: Buffer) => {
    echoed += chunk.length;
  });
  socket.write(Buffer.alloc(tag, 7));
  await waitFor(() => echoed === tag, 10_000, `the echo of ${tag} bytes`);
  return { socket, tag, localPort: socket.localPort ?? 0 };
}

/** A stored `network_logs` row, as the checks read it. */
export interface StoredRow {
  session_id: string;
  resource_id: string;
  source_port: number;
  bytes_tx: number;
  bytes_rx: number;
  packets_tx: number;
  packets_rx: number;
  status: string;
  close_reason: string;
  version: number;
}

const ROWS_SQL = `SELECT session_id, resource_id, source_port, toUInt64(bytes_tx) AS bytes_tx,
  toUInt64(bytes_rx) AS bytes_rx, toUInt64(packets_tx) AS packets_tx,
  toUInt64(packets_rx) AS packets_rx, status, close_reason, toUInt64(version) AS version
FROM connlog.network_logs WHERE org_id = 'acme' FORMAT JSONEachRow`;

/**
 * One row per session across every store: each collector's `network_logs`, and where
 * a session's versions landed in two stores (two collectors share the consumer, each
 * with its own embedded store), the highest version wins — what one shared ClickHouse
 * would show. `copies` counts stores holding the session's final version: more than
 * one means the same event was inserted twice.
 */
export async function storedSessions(
  collectors: readonly CollectorHandle[],
): Promise<Map<string, StoredRow & { copies: number }>> {
  const merged = new Map<string, StoredRow & { copies: number }>();
  for (const collector of collectors) {
    const rows = await collector.sql<RawRow>(ROWS_SQL);
    for (const raw of rows) {
      const row = normalize(raw);
      const seen = merged.get(row.session_id);
      if (seen === undefined || row.version > seen.version)
        merged.set(row.session_id, { ...row, copies: 1 });
      else if (row.version === seen.version) seen.copies += 1;
    }
  }
  return merged;
}

/** 64-bit integers may come back as JSON strings. */
type RawRow = { [K in keyof StoredRow]: StoredRow[K] extends number ? number | string : string };

function normalize(row: RawRow): StoredRow {
  return {
    session_id: row.session_id,
    resource_id: row.resource_id,
    status: row.status,
    close_reason: row.close_reason,
    source_port: Number(row.source_port),
    bytes_tx: Number(row.bytes_tx),
    bytes_rx: Number(row.bytes_rx),
    packets_tx: Number(row.packets_tx),
    packets_rx: Number(row.packets_rx),
    version: Number(row.version),
  };
}

export interface Tally {
  /** Sessions the clients completed. */
  sent: number;
  /** Completed sessions stored exactly once with exact bytes. */
  stored: number;
  /** Completed sessions with no completed row carrying their exact counts. */
  missing: number;
  /** Completed sessions matched by more than one stored session, or stored twice. */
  duplicated: number;
  /** Stored sessions left `ongoing` (every session ended, so none should be). */
  ongoing: number;
  /** What went wrong, first few cases (for the assertion message). */
  problems: string[];
}

/** Compare what the clients completed with what the stores hold. */
export function tally(
  sessions: readonly ClientSession[],
  stored: ReadonlyMap<string, StoredRow & { copies: number }>,
): Tally {
  const byKey = new Map<string, (StoredRow & { copies: number })[]>();
  let ongoing = 0;
  for (const row of stored.values()) {
    if (row.status !== 'completed') {
      ongoing += 1;
      continue;
    }
    const key = `${row.resource_id}:${row.bytes_tx}`;
    const list = byKey.get(key) ?? [];
    list.push(row);
    byKey.set(key, list);
  }
  const result: Tally = { sent: 0, stored: 0, missing: 0, duplicated: 0, ongoing, problems: [] };
  const problem = (text: string): void => {
    if (result.problems.length < 10) result.problems.push(text);
  };
  for (const session of sessions) {
    if (!session.ok) continue;
    result.sent += 1;
    const rows = byKey.get(`${session.resource}:${session.sent}`) ?? [];
    const [row] = rows;
    if (row === undefined) {
      result.missing += 1;
      problem(`missing: ${session.protocol} tag ${session.tag} from port ${session.localPort}`);
      continue;
    }
    if (rows.length > 1 || row.copies > 1) {
      result.duplicated += 1;
      problem(`duplicated: tag ${session.tag} (${rows.length} sessions, ${row.copies} copies)`);
      continue;
    }
    const packets = session.protocol === 'udp' ? 1 : 0;
    if (
      row.bytes_rx !== session.received ||
      row.source_port !== session.localPort ||
      row.packets_tx !== packets ||
      row.packets_rx !== packets
    ) {
      result.missing += 1;
      problem(`wrong counts: tag ${session.tag}: ${JSON.stringify(row)}`);
      continue;
    }
    result.stored += 1;
  }
  return result;
}

/**
 * Wait until every completed client session is stored (or `timeoutMs` passes), then
 * return the final tally; the caller asserts on it. Under bench/chaos.mjs the tally
 * is also appended to the report file, pass or fail.
 */
export async function settle(
  scenario: string,
  collectors: readonly CollectorHandle[],
  sessions: readonly ClientSession[],
  startedAt: number,
  timeoutMs = 120_000,
): Promise<Tally> {
  await waitFor(
    async () => {
      const current = tally(sessions, await storedSessions(collectors));
      return current.missing === 0 && current.ongoing === 0;
    },
    timeoutMs,
    `every completed session of ${scenario} stored`,
    500,
  ).catch(() => undefined);
  const final = tally(sessions, await storedSessions(collectors));
  report(scenario, final, startedAt);
  return final;
}

/** Append one scenario's figures to the chaos report (no-op in plain test runs). */
export function report(
  scenario: string,
  figures: Tally,
  startedAt: number,
  extra: object = {},
): void {
  if (REPORT_FILE === undefined || REPORT_FILE === '') return;
  const { problems, ...numbers } = figures;
  appendFileSync(
    REPORT_FILE,
    `${JSON.stringify({
      scenario,
      ...numbers,
      seconds: Math.round((Date.now() - startedAt) / 100) / 10,
      problems: problems.slice(0, 3),
      ...extra,
    })}\n`,
  );
}

/** One metric's value from a Prometheus text page (sum over label sets matching `labels`). */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Wait until the collector at `url` has inserted rows: ingest is under way. */
export async function untilInserting(url: string, what: string): Promise<void> {
  await waitFor(
    async () => (await metric(url, 'connlog_collector_rows_inserted_total')) > 0,
    30_000,
    what,
    100,
  );
}

/** The promise: every completed session stored exactly once, none left ongoing. */
export function expectAllStored(figures: Tally): void {
  expect(figures.problems).toEqual([]);
  expect(figures.missing).toBe(0);
  expect(figures.duplicated).toBe(0);
  expect(figures.ongoing).toBe(0);
  expect(figures.stored).toBe(figures.sent);
  expect(figures.sent).toBeGreaterThan(0);
}
