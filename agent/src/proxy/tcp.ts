import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Protocol } from '@connlog/proto';
import { formatHostPort, parseHostPort } from '../config/address.js';
import type { ResourceConfig } from '../config/options.js';
import { AgentError, describeError } from '../errors.js';
import type { Recorder, Session } from '../session/recorder.js';
import type { Telemetry } from '../telemetry.js';
import type { ProxyHeader } from '../identity/proxy_header.js';
import type { ResourceProxy } from './proxy.js';
import {
  cleanOutcome,
  dialOutcome,
  dialTimeoutOutcome,
  proxyHeaderOutcome,
  socketOutcome,
  type Outcome,
} from './close_reason.js';
import { ProxyHeaderReader, type ClientState } from './header_reader.js';
import { ResourceIdentity, type IdentityDeps } from './identity.js';
import { copyRead, sharedReadBuffer } from './read_blocks.js';

const KEEPALIVE_MS = 60_000;
const EMPTY = Buffer.alloc(0);

export interface TcpProxyOptions {
  resource: ResourceConfig;
  recorder: Recorder;
  telemetry: Telemetry;
  identity: IdentityDeps;
}

/**
 * Proxies one TCP resource: each accepted client gets its own connection to the target;
 * bytes are piped both ways with backpressure and counted as they are received.
 * Half-close is carried through: a FIN from one side ends our write toward the other,
 * and the reverse direction keeps flowing until it ends too.
 */
export class TcpProxy implements ResourceProxy {
  private readonly server: Server;
  private readonly connections = new Set<TcpConnection>();
  /** Accepted clients whose PROXY header is awaited (not sessions yet). */
  private readonly awaitingHeader = new Map<ProxyHeaderReader, { client: Socket; at: number }>();
  private readonly target: { host: string; port: number };
  private readonly identity: ResourceIdentity;
  private boundAddress = '';

  constructor(private readonly opts: TcpProxyOptions) {
    this.identity = new ResourceIdentity(opts.resource, opts.identity);
    const target = parseHostPort(opts.resource.target);
    if (target === undefined) {
      throw new AgentError('CONFIG_INVALID', `resource ${opts.resource.id}: bad target`);
    }
    this.target = target;
    this.server = createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_MS,
    });
    this.server.on('connection', (client) => this.accept(client));
  }

  /** The bound `host:port` (with the real port when the config said 0). */
  get address(): string {
    return this.boundAddress;
  }

  get openConnections(): number {
    return this.connections.size;
  }

  async listen(): Promise<string> {
    const { resource } = this.opts;
    const listen = parseHostPort(resource.listen);
    if (listen === undefined) {
      throw new AgentError('CONFIG_INVALID', `resource ${resource.id}: bad listen address`);
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new AgentError(
            'LISTEN_FAILED',
            `resource ${resource.id}: cannot listen on ${resource.listen}: ${describeError(err)}`,
            { cause: err },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ host: listen.host, port: listen.port }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    // Accept errors (EMFILE, ...) must not crash the agent; they are logged.
    this.server.on('error', (err) => this.opts.telemetry.acceptFailed(resource.id, err));
    const address = this.server.address() as AddressInfo;
    this.boundAddress = formatHostPort(address.address, address.port);
    this.opts.telemetry.listening(resource.id, 'tcp', this.boundAddress, resource.target);
    return this.boundAddress;
  }

  /** Stop accepting new clients; open sessions continue. */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      // close() calls back once all connections are gone; we only wait for the listener.
      this.server.close();
      resolve();
    });
  }

  /**
   * End every open session with `outcome` (shutdown) and destroy its sockets. Clients
   * still sending their PROXY header are recorded as sessions ended with `outcome` too.
   */
  abortAll(outcome: Outcome): void {
    for (const [reader, { client, at }] of [...this.awaitingHeader]) {
      reader.cancel();
      this.awaitingHeader.delete(reader);
      const session = this.startSession(client, at, undefined);
      this.opts.recorder.end(session, outcome);
      client.on('error', () => undefined);
      client.destroy();
    }
    for (const connection of [...this.connections]) connection.abort(outcome);
  }

  /**
   * With the PROXY protocol on, the header is read (and the identity decided) before
   * the session starts, so its `START` already carries the real source and identity;
   * `started_at` is still the accept time.
   */
  private accept(client: Socket): void {
    const acceptedAt = Date.now();
    if (!this.identity.headersEnabled) {
      this.open(client, acceptedAt, undefined, EMPTY, false);
      return;
    }
    const reader = new ProxyHeaderReader(client, this.identity.policy, (decision, state) => {
      this.awaitingHeader.delete(reader);
      if (decision.action === 'reject') {
        this.identity.rejected(decision, client.remoteAddress);
        this.refuse(client, acceptedAt, proxyHeaderOutcome(decision.reason));
      } else if (state.gone) {
        this.identity.accepted(decision.header);
        this.refuse(client, acceptedAt, clientGoneOutcome(state), decision.header);
      } else {
        this.identity.accepted(decision.header);
        this.open(client, acceptedAt, decision.header, decision.rest, state.ended);
      }
    });
    this.awaitingHeader.set(reader, { client, at: acceptedAt });
    reader.start();
  }

  private startSession(client: Socket, acceptedAt: number, header: ProxyHeader | undefined) {
    const { resource, recorder } = this.opts;
    const who = this.identity.resolve(client.remoteAddress, client.remotePort, header);
    return recorder.start({
      resourceId: resource.id,
      protocol: Protocol.TCP,
      sourceAddress: who.sourceAddress,
      sourcePort: who.sourcePort,
      clientId: who.clientId,
      userId: who.userId,
      destHost: this.target.host,
      destPort: this.target.port,
      startedAtMs: acceptedAt,
    });
  }

  /** Record the session as over before any dial and close the client. */
  private refuse(client: Socket, acceptedAt: number, outcome: Outcome, header?: ProxyHeader): void {
    const session = this.startSession(client, acceptedAt, header);
    this.opts.recorder.end(session, outcome);
    client.on('error', () => undefined);
    client.destroy();
  }

  /**
   * `rest`: client bytes read past the PROXY header; they are counted as client bytes
   * and written to the target first. `clientEnded`: the client's FIN came with them.
   */
  private open(
    client: Socket,
    acceptedAt: number,
    header: ProxyHeader | undefined,
    rest: Buffer,
    clientEnded: boolean,
  ): void {
    const { resource, recorder, telemetry } = this.opts;
    const session = this.startSession(client, acceptedAt, header);
    session.bytesTx += rest.length;
    const connection = new TcpConnection(client, session, {
      rest,
      clientEnded,
      target: this.target,
      dialTimeoutMs: resource.dialTimeout,
      recorder,
      onDialed: () => telemetry.targetReachable(resource.id, resource.target),
      onDialFailed: (error) => telemetry.targetUnreachable(resource.id, resource.target, error),
      onDone: () => this.connections.delete(connection),
    });
    this.connections.add(connection);
    connection.dial();
  }
}

/** The client failed or closed while its PROXY header was awaited. */
function clientGoneOutcome(state: ClientState): Outcome {
  return socketOutcome(
    'client',
    state.error ?? new Error('closed before the PROXY protocol decision'),
  );
}

interface ConnectionHooks {
  /** Client bytes already read (after a PROXY header), written to the target first. */
  rest: Buffer;
  /** The client half-closed before the dial. */
  clientEnded: boolean;
  target: { host: string; port: number };
  dialTimeoutMs: number;
  recorder: Recorder;
  onDialed: () => void;
  onDialFailed: (error: string) => void;
  onDone: () => void;
}

/** One client ↔ target pair and its session. */
class TcpConnection {
  private upstream: Socket | undefined;
  private dialTimer: NodeJS.Timeout | undefined;
  private connected = false;
  private outcome: Outcome | undefined;
  private firstEnded: 'client' | 'target' | undefined;
  private clientClosed = false;
  private targetClosed = false;
  private finished = false;

  constructor(
    private readonly client: Socket,
    private readonly session: Session,
    private readonly hooks: ConnectionHooks,
  ) {
    client.on('error', (err) => this.fail(socketOutcome('client', err)));
    client.on('close', () => {
      this.clientClosed = true;
      if (!this.connected) this.fail(socketOutcome('client', new Error('closed while dialing')));
      this.maybeFinish();
    });
  }

  dial(): void {
    const { target, dialTimeoutMs, recorder } = this.hooks;
    const upstream = connect({
      host: target.host,
      port: target.port,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_MS,
      // Target bytes are read into the shared buffer, not a fresh Buffer per read: see
      // read_blocks.ts for why that matters to the GC.
      onread: { buffer: sharedReadBuffer, callback: (n) => this.fromTarget(n) },
    });
    this.upstream = upstream;
    this.dialTimer = setTimeout(
      () => this.dialFailed(dialTimeoutOutcome(dialTimeoutMs)),
      dialTimeoutMs,
    );
    upstream.on('lookup', (err, address) => {
      if (err === null) recorder.setDestination(this.session, address, undefined);
    });
    upstream.once('connect', () => this.established());
    upstream.on('error', (err) => {
      if (this.connected) this.fail(socketOutcome('target', err));
      else this.dialFailed(dialOutcome(err));
    });
    upstream.on('close', () => {
      this.targetClosed = true;
      this.maybeFinish();
    });
  }

  /** Shutdown: record the end now, then tear both sockets down. */
  abort(outcome: Outcome): void {
    this.outcome ??= outcome;
    this.hooks.recorder.end(this.session, this.outcome);
    this.destroyBoth();
  }

  private established(): void {
    const { client, session } = this;
    const upstream = this.upstream;
    if (upstream === undefined || this.outcome !== undefined) return;
    clearTimeout(this.dialTimer);
    this.connected = true;
    this.hooks.recorder.setDestination(session, upstream.remoteAddress, upstream.remotePort);
    this.hooks.onDialed();

    client.on('data', (chunk: Buffer) => {
      session.bytesTx += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    // Target → client bytes arrive in fromTarget(); returning false from it stops reading.
    client.on('drain', () => upstream.resume());

    client.on('end', () => {
      this.firstEnded ??= 'client';
      upstream.end();
    });
    upstream.on('end', () => {
      this.firstEnded ??= 'target';
      client.end();
    });
    if (this.hooks.rest.length > 0) upstream.write(this.hooks.rest);
    // The FIN may have been read with the header (its 'end' already emitted while no
    // one listened): `readableEnded` says so.
    if (this.hooks.clientEnded || client.readableEnded) {
      this.firstEnded ??= 'client';
      upstream.end();
    }
    client.resume();
  }

  /**
   * `n` target bytes are in the shared read buffer: count them, copy them out for the
   * write, and stop reading (false) while the client's buffer is full.
   */
  private fromTarget(n: number): boolean {
    if (!this.connected) return false;
    this.session.bytesRx += n;
    const { chunk, done } = copyRead(n);
    return this.client.write(chunk, done);
  }

  private dialFailed(outcome: Outcome): void {
    if (this.connected || this.outcome !== undefined) return;
    clearTimeout(this.dialTimer);
    this.outcome = outcome;
    this.hooks.onDialFailed(outcome.error);
    this.hooks.recorder.end(this.session, outcome);
    this.upstream?.destroy();
    // The client sees a reset, as it would have dialing the target directly.
    if (!this.client.destroyed) this.client.resetAndDestroy();
  }

  private fail(outcome: Outcome): void {
    if (this.outcome === undefined) {
      this.outcome = outcome;
      clearTimeout(this.dialTimer);
    }
    this.destroyBoth();
  }

  private destroyBoth(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  /** The session is over when both sockets are closed. */
  private maybeFinish(): void {
    if (this.finished) return;
    const targetDone = this.targetClosed || this.upstream === undefined;
    if (!this.clientClosed || !targetDone) return;
    this.finished = true;
    clearTimeout(this.dialTimer);
    const outcome =
      this.outcome ??
      (this.firstEnded !== undefined
        ? cleanOutcome(this.firstEnded)
        : socketOutcome('client', new Error('connection closed without end')));
    this.hooks.recorder.end(this.session, outcome);
    this.hooks.onDone();
  }
}
