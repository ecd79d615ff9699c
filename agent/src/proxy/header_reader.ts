import type { Socket } from 'node:net';
import { ProxyProtocolGate, type ProxyAccept, type ProxyReject } from '../identity/gate.js';
import type { ResolvedProxyProtocolPolicy } from '../identity/policy.js';

/** How the client socket stood when the decision was made. */
export interface ClientState {
  /** The client sent its FIN while the header was awaited (a half-close). */
  readonly ended: boolean;
  /** The client socket failed or closed: nothing can be proxied any more. */
  readonly gone: boolean;
  /** The socket error, when `gone` because of one. */
  readonly error: Error | undefined;
}

/**
 * Reads the PROXY protocol header off a freshly accepted (paused) TCP socket before the
 * target is dialed. The gate decides; this class feeds it the socket's chunks, its end
 * and the `headerTimeout`, and calls `onDecision` exactly once, with the socket paused
 * again so no byte after the header is lost (the decision's `rest` holds the bytes
 * already read past it).
 */
export class ProxyHeaderReader {
  private readonly gate: ProxyProtocolGate;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private gone = false;
  private error: Error | undefined;
  private done = false;

  constructor(
    private readonly socket: Socket,
    private readonly policy: ResolvedProxyProtocolPolicy,
    private readonly onDecision: (decision: ProxyAccept | ProxyReject, client: ClientState) => void,
  ) {
    this.gate = new ProxyProtocolGate(policy, socket.remoteAddress);
  }

  start(): void {
    const first = this.gate.start();
    if (first.action !== 'wait') {
      this.finish(first);
      return;
    }
    const { socket } = this;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    this.timer = setTimeout(
      () => this.decide(() => this.gate.timeout()),
      this.policy.headerTimeoutMs,
    );
    socket.resume();
  }

  /** Stop waiting without a decision (agent shutdown); the caller closes the socket. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.detach();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.decide(() => this.gate.push(chunk));
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.decide(() => this.gate.end());
  };

  private readonly onError = (err: Error): void => {
    this.gone = true;
    this.error = err;
    this.decide(() => this.gate.end());
  };

  private readonly onClose = (): void => {
    this.gone = true;
    this.decide(() => this.gate.end());
  };

  private decide(next: () => ReturnType<ProxyProtocolGate['push']>): void {
    if (this.done) return;
    const decision = next();
    if (decision.action === 'wait') return;
    this.finish(decision);
  }

  private finish(decision: ProxyAccept | ProxyReject): void {
    this.done = true;
    this.detach();
    this.onDecision(decision, { ended: this.ended, gone: this.gone, error: this.error });
  }

  private detach(): void {
    clearTimeout(this.timer);
    const { socket } = this;
    socket.pause();
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
  }
}
