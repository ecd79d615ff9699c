import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostPort } from '../config/address.js';
import type { ResourceConfig } from '../config/options.js';
import type { Recorder, Session } from '../session/recorder.js';
import type { Telemetry } from '../telemetry.js';
import { dialOutcome, dialTimeoutOutcome, udpTargetOutcome, type Outcome } from './close_reason.js';

/** Datagrams held per flow while its socket toward the target is being set up. */
export const MAX_PENDING_DATAGRAMS = 64;

/** Where a flow sends replies (the socket peer), and how it leaves the flow table. */
export interface FlowOwner {
  reply(msg: Buffer, address: string, port: number): void;
  forget(key: string): void;
}

export interface UdpFlowOptions {
  resource: ResourceConfig;
  recorder: Recorder;
  telemetry: Telemetry;
  target: HostPort;
  now: () => number;
}

/**
 * One flow: datagrams from one client (its socket address, or the real source of its
 * PROXY headers) and its own connected socket toward the target, so the target's
 * replies come back on it and go to that client alone. Counters are payload bytes and
 * datagrams, counted when received.
 */
export class UdpFlow {
  lastActivityMs: number;
  private upstream: Socket | undefined;
  private connected = false;
  private pending: Buffer[] = [];
  private dialTimer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly owner: FlowOwner,
    private readonly key: string,
    /** The socket peer that sent the datagrams: replies go there, without a header. */
    private readonly replyTo: { address: string; port: number },
    readonly session: Session,
    private readonly opts: UdpFlowOptions,
  ) {
    this.lastActivityMs = opts.now();
  }

  dial(): void {
    const { resource, recorder, telemetry, target } = this.opts;
    this.dialTimer = setTimeout(
      () => this.dialFailed(dialTimeoutOutcome(resource.dialTimeout)),
      resource.dialTimeout,
    );
    const family = isIP(target.host);
    const resolved =
      family !== 0 ? Promise.resolve({ address: target.host, family }) : lookup(target.host);
    resolved.then(
      ({ address, family: resolvedFamily }) => {
        if (this.done) return;
        recorder.setDestination(this.session, address, target.port);
        const upstream = createSocket(resolvedFamily === 6 ? 'udp6' : 'udp4');
        this.upstream = upstream;
        upstream.on('message', (msg) => this.fromTarget(msg));
        upstream.on('error', (err) => {
          // ICMP port/host unreachable arrives here on a connected socket.
          const answered = this.session.packetsRx > 0;
          const outcome = udpTargetOutcome(err, answered);
          if (answered) this.finish(outcome);
          else this.dialFailed(outcome);
        });
        // No callback: with one, a failed connect would not reach the 'error' listener.
        upstream.once('connect', () => {
          if (this.done) return;
          clearTimeout(this.dialTimer);
          this.connected = true;
          telemetry.targetReachable(resource.id, resource.target);
          for (const msg of this.pending) this.send(msg);
          this.pending = [];
        });
        upstream.connect(target.port, address);
      },
      (err: unknown) => this.dialFailed(dialOutcome(err)),
    );
  }

  /** A datagram's payload from the client (its PROXY header already stripped). */
  fromClient(payload: Buffer): void {
    const { session } = this;
    session.bytesTx += payload.length;
    session.packetsTx += 1;
    this.lastActivityMs = this.opts.now();
    if (this.connected) {
      this.send(payload);
    } else if (this.pending.length < MAX_PENDING_DATAGRAMS) {
      this.pending.push(payload);
    } else {
      this.opts.telemetry.udpDropped(this.opts.resource.id, 'queue_full');
    }
  }

  finish(outcome: Outcome): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.dialTimer);
    this.pending = [];
    this.opts.recorder.end(this.session, outcome);
    const upstream = this.upstream;
    this.upstream = undefined;
    if (upstream !== undefined) {
      upstream.removeAllListeners('message');
      upstream.on('error', () => undefined);
      try {
        upstream.close();
      } catch {
        // Already closed by a failed bind/connect.
      }
    }
    this.owner.forget(this.key);
  }

  private dialFailed(outcome: Outcome): void {
    if (this.done) return;
    this.opts.telemetry.targetUnreachable(
      this.opts.resource.id,
      this.opts.resource.target,
      outcome.error,
    );
    this.finish(outcome);
  }

  private fromTarget(msg: Buffer): void {
    const { resource, telemetry } = this.opts;
    if (msg.length > resource.maxDatagramBytes) {
      // Not proxied, so neither counted in the session nor keeping it alive.
      telemetry.udpDropped(resource.id, 'too_large');
      return;
    }
    const { session } = this;
    session.bytesRx += msg.length;
    session.packetsRx += 1;
    this.lastActivityMs = this.opts.now();
    this.owner.reply(msg, this.replyTo.address, this.replyTo.port);
  }

  private send(msg: Buffer): void {
    this.upstream?.send(msg, (err) => {
      if (err) this.opts.telemetry.udpDropped(this.opts.resource.id, 'send_failed');
    });
  }
}
