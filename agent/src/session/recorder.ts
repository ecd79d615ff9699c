import { CloseReason, EventKind, ipToBytes, Protocol, type SessionEvent } from '@connlog/proto';
import type { Outcome } from '../proxy/close_reason.js';
import type { ResourceTelemetry, Telemetry } from '../telemetry.js';
import { UuidV7Generator } from './ids.js';

/** What the recorder needs from the batcher (synchronous, never blocks). */
export interface EventSink {
  admitSession(): boolean;
  add(event: SessionEvent): boolean;
}

export interface RecorderOptions {
  orgId: string;
  siteId: string;
  agentId: string;
  updateIntervalMs: number;
  sink: EventSink;
  telemetry: Telemetry;
  now?: () => number;
}

export interface SessionInit {
  resourceId: string;
  protocol: Protocol;
  sourceAddress: string | undefined;
  sourcePort: number | undefined;
  /** The target as configured (hostname or IP literal). */
  destHost: string;
  destPort: number;
  /** Identity decided at accept, so `START` already carries it. @default "" */
  clientId?: string;
  userId?: string;
  /**
   * When the client was accepted, if before this call (e.g. the PROXY header was read
   * first): `started_at_ms`. @default now
   */
  startedAtMs?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * `ipToBytes` remembering its last answer: consecutive sessions mostly repeat an
 * address (one target per resource; clients reconnecting). The bytes are shared by
 * the events of those sessions, which only read them.
 */
class LastIp {
  private text = '';
  private bytes: Uint8Array = EMPTY;

  toBytes(address: string): Uint8Array {
    if (address !== this.text) {
      this.bytes = ipToBytes(address);
      this.text = address;
    }
    return this.bytes;
  }
}

/** What the recorder keeps per resource: its open sessions and its telemetry (internal). */
export class ResourceState {
  open = 0;
  readonly destIp = new LastIp();

  constructor(readonly telemetry: ResourceTelemetry) {}
}

/**
 * One proxied session. The proxy adds to `bytesTx` / `bytesRx` directly on its hot
 * path; the recorder reads them on its ticks and at the end.
 */
export class Session {
  /** Bytes received from the client (sent toward the target). */
  bytesTx = 0;
  /** Bytes received from the target (returned to the client). */
  bytesRx = 0;
  /** Datagrams received from the client (UDP; 0 for TCP). */
  packetsTx = 0;
  /** Datagrams received from the target (UDP; 0 for TCP). */
  packetsRx = 0;
  destIp: Uint8Array;
  destPort: number;
  sourceIp: Uint8Array;
  sourcePort: number;
  clientId = '';
  userId = '';
  seq = 0;
  lastEventAtMs: number;
  ended = false;
  /** Bytes already counted in the bytes metric. */
  countedTx = 0;
  countedRx = 0;

  constructor(
    readonly sessionId: string,
    /** False when the session is proxied but not recorded (a buffer bound was hit). */
    readonly recorded: boolean,
    readonly init: SessionInit,
    /** @internal the recorder's state of `init.resourceId`. */
    readonly resource: ResourceState,
    sourceIp: Uint8Array,
    readonly startedAtMs: number,
  ) {
    this.sourceIp = sourceIp;
    this.sourcePort = init.sourcePort ?? 0;
    this.clientId = init.clientId ?? '';
    this.userId = init.userId ?? '';
    this.destIp = resource.destIp.toBytes(init.destHost);
    this.destPort = init.destPort;
    this.lastEventAtMs = startedAtMs;
  }
}

/**
 * Turns sessions into events: `START` (seq 1) at accept, `UPDATE` with cumulative
 * counters every `updateIntervalMs` (one ticker for all sessions), `END` with the final
 * counters and close reason. Everything is synchronous: events go to the batcher and
 * the proxy never waits on the logging path.
 */
export class Recorder {
  private readonly opts: RecorderOptions;
  private readonly now: () => number;
  private readonly ids: UuidV7Generator;
  private readonly open = new Set<Session>();
  private readonly resources = new Map<string, ResourceState>();
  private readonly sourceIp = new LastIp();
  private ticker: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(options: RecorderOptions) {
    this.opts = options;
    this.now = options.now ?? Date.now;
    this.ids = new UuidV7Generator(this.now);
  }

  /** Start the update ticker (a fraction of the update interval, at most 1 s). */
  startTicker(): void {
    if (this.ticker) return;
    const period = Math.max(50, Math.min(1000, Math.floor(this.opts.updateIntervalMs / 4)));
    this.ticker = setInterval(() => this.tick(), period);
    this.ticker.unref();
  }

  stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  get openCount(): number {
    return this.open.size;
  }

  openCountOf(resourceId: string): number {
    return this.resources.get(resourceId)?.open ?? 0;
  }

  /** Resolves once no session is open. */
  whenIdle(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A client was accepted: mint the id and emit `START`. */
  start(init: SessionInit): Session {
    const now = this.now();
    const startedAt = Math.min(init.startedAtMs ?? now, now);
    const recorded = this.opts.sink.admitSession();
    if (!recorded) this.opts.telemetry.sessionNotRecorded();
    const sessionId = this.ids.next();
    const sourceIp =
      init.sourceAddress === undefined ? EMPTY : this.sourceIp.toBytes(init.sourceAddress);
    const resource = this.resourceState(init.resourceId);
    const session = new Session(sessionId, recorded, init, resource, sourceIp, startedAt);
    this.open.add(session);
    resource.open += 1;
    resource.telemetry.sessionStarted();
    if (recorded) this.emit(session, EventKind.START, now);
    return session;
  }

  private resourceState(resourceId: string): ResourceState {
    let state = this.resources.get(resourceId);
    if (state === undefined) {
      // Resource ids come from the config: a bounded set, kept for the agent's life.
      state = new ResourceState(this.opts.telemetry.resource(resourceId));
      this.resources.set(resourceId, state);
    }
    return state;
  }

  /** The address actually dialed (after DNS), for `dest_ip` / `dest_port`. */
  setDestination(session: Session, address: string | undefined, port: number | undefined): void {
    if (address !== undefined && address !== '') {
      session.destIp = session.resource.destIp.toBytes(address);
    }
    if (port !== undefined && port > 0) session.destPort = port;
  }

  /**
   * Who the session belongs to, once known (e.g. from a PROXY protocol header or a peer
   * map): later events carry it. `source` replaces the socket's peer address.
   */
  setIdentity(
    session: Session,
    identity: { clientId?: string; userId?: string; source?: { address: string; port: number } },
  ): void {
    if (identity.clientId !== undefined) session.clientId = identity.clientId;
    if (identity.userId !== undefined) session.userId = identity.userId;
    if (identity.source !== undefined) {
      session.sourceIp = ipToBytes(identity.source.address);
      session.sourcePort = identity.source.port;
    }
  }

  /** Emit `END` with the final counters. Idempotent. */
  end(session: Session, outcome: Outcome): void {
    if (session.ended) return;
    session.ended = true;
    const now = this.now();
    this.open.delete(session);
    session.resource.open -= 1;
    this.countBytes(session);
    if (session.recorded) this.emit(session, EventKind.END, now, outcome);
    session.resource.telemetry.sessionEnded(session, outcome.reason, outcome.error, now);
    if (this.open.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /**
   * A previous run crashed with these sessions open (their last spooled event each):
   * end each with `agent_restart`, the last recorded counters, at the last event's time.
   * A session whose last event is its `END` gets that `END` again, unchanged.
   */
  recover(lastEvents: readonly SessionEvent[]): void {
    for (const last of lastEvents) {
      if (last.kind === EventKind.END) {
        // Its END may or may not have reached the spool before the crash: send the very
        // same END again (an identical version if it did).
        this.opts.sink.add(last);
        continue;
      }
      this.opts.sink.add({
        ...last,
        kind: EventKind.END,
        seq: last.seq + 1,
        endedAtMs: last.eventAtMs,
        closeReason: CloseReason.AGENT_RESTART,
        error: '',
      });
    }
  }

  /** Emit due `UPDATE`s and count bytes; runs on the ticker. */
  tick(): void {
    const now = this.now();
    const interval = this.opts.updateIntervalMs;
    for (const session of this.open) {
      this.countBytes(session);
      if (!session.recorded || now - session.lastEventAtMs < interval) continue;
      if (!this.emit(session, EventKind.UPDATE, now)) {
        // Buffer full: skip this update (END will carry the totals); try next interval.
        session.lastEventAtMs = now;
        this.opts.telemetry.updateSkipped();
      }
    }
  }

  private countBytes(session: Session): void {
    const tx = session.bytesTx - session.countedTx;
    const rx = session.bytesRx - session.countedRx;
    if (tx === 0 && rx === 0) return;
    session.countedTx = session.bytesTx;
    session.countedRx = session.bytesRx;
    session.resource.telemetry.bytesProxied(tx, rx);
  }

  private emit(session: Session, kind: EventKind, now: number, outcome?: Outcome): boolean {
    const event: SessionEvent = {
      sessionId: session.sessionId,
      kind,
      seq: session.seq + 1,
      orgId: this.opts.orgId,
      siteId: this.opts.siteId,
      agentId: this.opts.agentId,
      resourceId: session.init.resourceId,
      protocol: session.init.protocol,
      clientId: session.clientId,
      userId: session.userId,
      sourceIp: session.sourceIp,
      sourcePort: session.sourcePort,
      destIp: session.destIp,
      destPort: session.destPort,
      destHost: session.init.destHost,
      startedAtMs: session.startedAtMs,
      eventAtMs: now,
      endedAtMs: kind === EventKind.END ? now : 0,
      bytesTx: session.bytesTx,
      bytesRx: session.bytesRx,
      packetsTx: session.packetsTx,
      packetsRx: session.packetsRx,
      closeReason: outcome?.reason ?? CloseReason.CLOSE_REASON_UNSPECIFIED,
      error: outcome?.error ?? '',
    };
    if (!this.opts.sink.add(event)) return false;
    session.seq = event.seq;
    session.lastEventAtMs = now;
    return true;
  }
}
