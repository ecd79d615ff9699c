import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { CloseReason, Protocol } from '@connlog/proto';
import { formatHostPort, parseHostPort, type HostPort } from '../config/address.js';
import type { ResourceConfig } from '../config/options.js';
import { AgentError, describeError } from '../errors.js';
import { decideProxyDatagram, type ProxyReject } from '../identity/gate.js';
import type { ProxyHeader } from '../identity/proxy_header.js';
import type { Recorder } from '../session/recorder.js';
import type { Telemetry } from '../telemetry.js';
import { proxyHeaderOutcome, type Outcome } from './close_reason.js';
import { headerSource, ResourceIdentity, type IdentityDeps } from './identity.js';
import type { ResourceProxy } from './proxy.js';
import { UdpFlow, type FlowOwner } from './udp_flow.js';

/**
 * Receive buffer of the listening socket. A burst of new flows (each needs a socket set
 * up on the event loop) otherwise overflows the kernel's default (~208 KiB) and the
 * kernel drops datagrams before the agent sees them. Linux caps it at
 * `net.core.rmem_max`.
 */
const LISTEN_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface UdpProxyOptions {
  resource: ResourceConfig;
  recorder: Recorder;
  telemetry: Telemetry;
  identity: IdentityDeps;
  now?: () => number;
}

/**
 * Proxies one UDP resource. A session is a flow: all datagrams from one client
 * `address:port` (with the PROXY protocol on: one real source behind one socket peer).
 * Each flow gets its own socket toward the target, so replies find their way back; it
 * ends after `idleTimeout` without a datagram either way, and has no maximum lifetime.
 * Flows are bounded by `maxFlows`: datagrams that would open more are dropped and
 * counted, open flows are untouched.
 */
export class UdpProxy implements ResourceProxy, FlowOwner {
  private socket: Socket | undefined;
  private readonly flows = new Map<string, UdpFlow>();
  /**
   * Socket peers whose datagrams the PROXY policy refused, until they have been quiet
   * for `idleTimeout`: a refused "flow" is recorded once, not once per datagram.
   * Bounded by `maxFlows`; beyond it refusals are only counted.
   */
  private readonly refused = new Map<string, number>();
  private readonly target: HostPort;
  private readonly identity: ResourceIdentity;
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
    this.identity = new ResourceIdentity(opts.resource, opts.identity);
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
    const socket = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      recvBufferSize: LISTEN_RECV_BUFFER_BYTES,
    });
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
  reply(msg: Buffer, address: string, port: number): void {
    this.socket?.send(msg, port, address, (err) => {
      if (err) this.opts.telemetry.udpDropped(this.opts.resource.id, 'send_failed');
    });
  }

  forget(key: string): void {
    this.flows.delete(key);
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    const { resource, telemetry } = this.opts;
    const peerKey = `${rinfo.address}|${rinfo.port}`;
    let payload = msg;
    let header: ProxyHeader | undefined;
    if (this.identity.headersEnabled) {
      const decision = decideProxyDatagram(this.identity.policy, rinfo.address, msg);
      if (decision.action === 'reject') {
        this.refuse(peerKey, rinfo, decision);
        return;
      }
      this.identity.accepted(decision.header);
      payload = decision.payload;
      header = decision.header;
    }
    if (payload.length > resource.maxDatagramBytes) {
      telemetry.udpDropped(resource.id, 'too_large');
      return;
    }
    const real = headerSource(header);
    // Behind an edge proxy, one socket peer may relay several clients: the real source
    // tells them apart, the socket peer is where the replies go.
    const key = real === undefined ? peerKey : `${peerKey}|${real.address}|${real.port}`;
    const flow = this.flows.get(key) ?? this.open(key, rinfo, header);
    flow?.fromClient(payload);
  }

  private open(key: string, rinfo: RemoteInfo, header: ProxyHeader | undefined) {
    const { resource, recorder, telemetry } = this.opts;
    if (!this.accepting) {
      telemetry.udpDropped(resource.id, 'closing');
      return undefined;
    }
    if (this.flows.size >= resource.maxFlows) {
      telemetry.udpDropped(resource.id, 'flows_full');
      return undefined;
    }
    const who = this.identity.resolve(rinfo.address, rinfo.port, header);
    const session = recorder.start({
      resourceId: resource.id,
      protocol: Protocol.UDP,
      sourceAddress: who.sourceAddress,
      sourcePort: who.sourcePort,
      clientId: who.clientId,
      userId: who.userId,
      destHost: this.target.host,
      destPort: this.target.port,
    });
    const flow = new UdpFlow(this, key, { address: rinfo.address, port: rinfo.port }, session, {
      resource,
      recorder,
      telemetry,
      target: this.target,
      now: this.now,
    });
    this.flows.set(key, flow);
    flow.dial();
    return flow;
  }

  /**
   * A datagram the PROXY policy refused: always counted; recorded as a session ended
   * with `error` once per quiet period of its socket peer (and not at all while that
   * peer has an open flow, or when the table of refused peers is full).
   */
  private refuse(peerKey: string, rinfo: RemoteInfo, reject: ProxyReject): void {
    const { resource, recorder } = this.opts;
    this.identity.rejected(reject, rinfo.address);
    const now = this.now();
    if (this.refused.has(peerKey)) {
      this.refused.set(peerKey, now);
      return;
    }
    if (!this.accepting || this.flows.has(peerKey) || this.refused.size >= resource.maxFlows) {
      return;
    }
    this.refused.set(peerKey, now);
    const who = this.identity.resolve(rinfo.address, rinfo.port);
    const session = recorder.start({
      resourceId: resource.id,
      protocol: Protocol.UDP,
      sourceAddress: who.sourceAddress,
      sourcePort: who.sourcePort,
      clientId: who.clientId,
      userId: who.userId,
      destHost: this.target.host,
      destPort: this.target.port,
    });
    recorder.end(session, proxyHeaderOutcome(reject.reason));
  }

  private sweep(): void {
    const now = this.now();
    const idle = this.opts.resource.idleTimeout;
    for (const flow of this.flows.values()) {
      if (now - flow.lastActivityMs >= idle) {
        flow.finish({ reason: CloseReason.IDLE_TIMEOUT, error: '' });
      }
    }
    for (const [key, lastMs] of this.refused) {
      if (now - lastMs >= idle) this.refused.delete(key);
    }
  }
}
