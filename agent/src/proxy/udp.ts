import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { CloseReason, Protocol } from '@connlog/proto';
import { formatHostPort, parseHostPort, type HostPort } from '../config/address.js';
import type { ResourceConfig } from '../config/options.js';
import { AgentError, describeError } from '../errors.js';
import type { Recorder, Session } from '../session/recorder.js';
import type { Telemetry } from '../telemetry.js';
import { dialOutcome, dialTimeoutOutcome, socketOutcome, type Outcome } from './close_reason.js';
import type { ResourceProxy } from './proxy.js';

/** Datagrams held per flow while its socket toward the target is being set up. */
const MAX_PENDING_DATAGRAMS = 64;

export interface UdpProxyOptions {
  resource: ResourceConfig;
  recorder: Recorder;
  telemetry: Telemetry;
  now?: () => number;
}

/**
 * Proxies one UDP resource. A session is a flow: all datagrams from one client
 * `address:port`. Each flow gets its own socket toward the target, so replies find
 * their way back; it ends after `idleTimeout` without a datagram either way. Flows are
 * bounded by `maxFlows`; datagrams that would open more are dropped and counted.
 */
export class UdpProxy implements ResourceProxy {
  private socket: Socket | undefined;
  private readonly flows = new Map<string, UdpFlow>();
  private readonly target: HostPort;
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;
  private accepting = true;
  private boundAddress = '';

  constructor(private readonly opts: UdpProxyOptions) {
    const target = parseHostPort(opts.resource.target);
    if (target === undefined) {
      throw new AgentError('CONFIG_INVALID', `resource ${opts.resource.id}: bad target`);
    }
    this.target = target;
    this.now = opts.now ?? Date.now;
  }

  get address(): string {
    return this.boundAddress;
  }

  async listen(): Promise<string> {
    const { resource, telemetry } = this.opts;
    const listen = parseHostPort(resource.listen);
    if (listen === undefined) {
      throw new AgentError('CONFIG_INVALID', `resource ${resource.id}: bad listen address`);
    }
    const fail = (err: unknown): AgentError =>
      new AgentError(
        'LISTEN_FAILED',
        `resource ${resource.id}: cannot listen on ${resource.listen}: ${describeError(err)}`,
        { cause: err },
      );
    let host = listen.host;
    let family = isIP(host);
    if (family === 0) {
      try {
        ({ address: host, family } = await lookup(host));
      } catch (err) {
        throw fail(err);
      }
    }
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(fail(err)));
      socket.bind({ address: host, port: listen.port }, () => resolve());
    });
    socket.removeAllListeners('error');
    // Errors on the listening socket (rare: no ICMP reaches an unconnected socket) are
    // logged; they must not crash the agent.
    socket.on('error', (err) => telemetry.acceptFailed(resource.id, err));
    socket.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    this.socket = socket;
    const bound = socket.address();
    this.boundAddress = formatHostPort(bound.address, bound.port);
    const period = Math.max(50, Math.min(1000, Math.floor(resource.idleTimeout / 4)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
    telemetry.listening(resource.id, 'udp', this.boundAddress, resource.target);
    return this.boundAddress;
  }

  /**
   * New client addresses are ignored from now on; the listening socket stays open so
   * open flows still get their replies during the shutdown grace.
   */
  stopAccepting(): Promise<void> {
    this.accepting = false;
    return Promise.resolve();
  }

  abortAll(outcome: Outcome): void {
    for (const flow of [...this.flows.values()]) flow.finish(outcome);
    clearInterval(this.sweeper);
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
  }

  /** Send a reply to a client through the listening socket. */
  reply(msg: Buffer, client: RemoteInfo): void {
    this.socket?.send(msg, client.port, client.address, (err) => {
      if (err) this.opts.telemetry.udpDropped(this.opts.resource.id, 'send_failed');
    });
  }

  forget(key: string): void {
    this.flows.delete(key);
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    const { resource, recorder, telemetry } = this.opts;
    const key = `${rinfo.address}|${rinfo.port}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      if (!this.accepting) {
        telemetry.udpDropped(resource.id, 'closing');
        return;
      }
      if (this.flows.size >= resource.maxFlows) {
        telemetry.udpDropped(resource.id, 'flows_full');
        return;
      }
      const session = recorder.start({
        resourceId: resource.id,
        protocol: Protocol.UDP,
        sourceAddress: rinfo.address,
        sourcePort: rinfo.port,
        destHost: this.target.host,
        destPort: this.target.port,
      });
      flow = new UdpFlow(this, key, { ...rinfo }, session, this.opts, this.target, this.now);
      this.flows.set(key, flow);
      flow.dial();
    }
    flow.fromClient(msg);
  }

  private sweep(): void {
    const now = this.now();
    const idle = this.opts.resource.idleTimeout;
    for (const flow of this.flows.values()) {
      if (now - flow.lastActivityMs >= idle) {
        flow.finish({ reason: CloseReason.IDLE_TIMEOUT, error: '' });
      }
    }
  }
}

/** One client address:port and its socket toward the target. */
class UdpFlow {
  lastActivityMs: number;
  private upstream: Socket | undefined;
  private connected = false;
  private pending: Buffer[] = [];
  private dialTimer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly proxy: UdpProxy,
    private readonly key: string,
    private readonly client: RemoteInfo,
    private readonly session: Session,
    private readonly opts: UdpProxyOptions,
    private readonly target: HostPort,
    private readonly now: () => number,
  ) {
    this.lastActivityMs = now();
  }

  dial(): void {
    const { resource, recorder, telemetry } = this.opts;
    this.dialTimer = setTimeout(
      () => this.dialFailed(dialTimeoutOutcome(resource.dialTimeout)),
      resource.dialTimeout,
    );
    const family = isIP(this.target.host);
    const resolved =
      family !== 0
        ? Promise.resolve({ address: this.target.host, family })
        : lookup(this.target.host);
    resolved.then(
      ({ address, family: resolvedFamily }) => {
        if (this.done) return;
        recorder.setDestination(this.session, address, this.target.port);
        const upstream = createSocket(resolvedFamily === 6 ? 'udp6' : 'udp4');
        this.upstream = upstream;
        upstream.on('message', (msg) => this.fromTarget(msg));
        upstream.on('error', (err) => {
          // ICMP port/host unreachable arrives here on a connected socket.
          if (this.session.packetsRx === 0) this.dialFailed(dialOutcome(err));
          else this.finish(socketOutcome('target', err));
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
        upstream.connect(this.target.port, address);
      },
      (err: unknown) => this.dialFailed(dialOutcome(err)),
    );
  }

  fromClient(msg: Buffer): void {
    const { session } = this;
    session.bytesTx += msg.length;
    session.packetsTx += 1;
    this.lastActivityMs = this.now();
    if (this.connected) {
      this.send(msg);
    } else if (this.pending.length < MAX_PENDING_DATAGRAMS) {
      this.pending.push(msg);
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
    this.proxy.forget(this.key);
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
    const { session } = this;
    session.bytesRx += msg.length;
    session.packetsRx += 1;
    this.lastActivityMs = this.now();
    this.proxy.reply(msg, this.client);
  }

  private send(msg: Buffer): void {
    this.upstream?.send(msg, (err) => {
      if (err) this.opts.telemetry.udpDropped(this.opts.resource.id, 'send_failed');
    });
  }
}
