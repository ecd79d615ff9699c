import { IdentityError } from './errors.js';
import type { ResolvedProxyProtocolPolicy } from './policy.js';
import { PROXY_V2_SIGNATURE, type ProxyHeader } from './proxy_header.js';
import { detectVersion, parseDatagramHeader, ProxyHeaderParser } from './proxy_protocol.js';

/** Why a connection or datagram was refused: a closed set, used as a metric label and as the session's `error`. */
export type ProxyRejectReason =
  | 'proxy_header_untrusted'
  | 'proxy_header_malformed'
  | 'proxy_header_missing'
  | 'proxy_header_timeout';

export const PROXY_REJECT_REASONS: readonly ProxyRejectReason[] = [
  'proxy_header_untrusted',
  'proxy_header_malformed',
  'proxy_header_missing',
  'proxy_header_timeout',
];

export type ProxyAccept = {
  readonly action: 'accept';
  /** The header, or undefined when none was sent (or the mode is `off`). */
  readonly header: ProxyHeader | undefined;
  /** Client bytes already read that belong to the proxied stream: forward and count them. */
  readonly rest: Buffer;
};

export type ProxyReject = {
  readonly action: 'reject';
  readonly reason: ProxyRejectReason;
  /** Short, bounded, safe to log; never echoes client bytes. */
  readonly detail: string;
};

export type ProxyDecision = { readonly action: 'wait' } | ProxyAccept | ProxyReject;

const WAIT: ProxyDecision = { action: 'wait' };
const EMPTY = Buffer.alloc(0);

/**
 * The PROXY protocol decision for one accepted TCP connection. Call `start()` at
 * accept; while it answers `wait`, read from the socket and `push()` each chunk, and
 * arm a `policy.headerTimeoutMs` timer that calls `timeout()`; call `end()` if the
 * client closes first. The first non-`wait` answer is final; calling on afterwards
 * throws `PARSER_FINISHED`. Nothing is dialled before the decision, so a rejected
 * connection never reaches the target.
 */
export class ProxyProtocolGate {
  /** Whether the remote address lies in the policy's trusted CIDRs. */
  readonly trusted: boolean;
  private readonly parser: ProxyHeaderParser | undefined;
  /** Bytes seen from an untrusted source in `optional` mode: less than one signature. */
  private untrustedHead: Buffer = EMPTY;
  private decided = false;

  constructor(
    private readonly policy: ResolvedProxyProtocolPolicy,
    remoteAddress: string | undefined,
  ) {
    this.trusted = remoteAddress !== undefined && policy.trusted.has(remoteAddress);
    this.parser = policy.mode !== 'off' && this.trusted ? new ProxyHeaderParser(policy) : undefined;
  }

  /** The decision at accept, before any byte: final for `off` and for untrusted sources in `required`. */
  start(): ProxyDecision {
    this.assertOpen();
    const fixed = this.fixedDecision(EMPTY);
    return fixed ? this.final(fixed) : WAIT;
  }

  /**
   * What `off` and `required`-from-an-untrusted-source decide whatever arrives. Every
   * entry point checks it, so a caller that skipped `start()` still cannot let an
   * untrusted source through a `required` listener.
   */
  private fixedDecision(rest: Buffer): ProxyAccept | ProxyReject | undefined {
    if (this.policy.mode === 'off') return { action: 'accept', header: undefined, rest };
    if (this.policy.mode === 'required' && !this.trusted) {
      return {
        action: 'reject',
        reason: 'proxy_header_untrusted',
        detail: 'source is not in trustedCidrs',
      };
    }
    return undefined;
  }

  push(chunk: Buffer): ProxyDecision {
    this.assertOpen();
    const fixed = this.fixedDecision(chunk);
    if (fixed) return this.final(fixed);
    if (!this.parser) return this.pushUntrusted(chunk);
    const result = this.parser.push(chunk);
    switch (result.state) {
      case 'need-more':
        return WAIT;
      case 'done':
        return this.final({ action: 'accept', header: result.header, rest: result.rest });
      case 'error':
        if (result.code === 'missing') {
          if (this.policy.mode === 'optional') {
            return this.final({ action: 'accept', header: undefined, rest: result.received });
          }
          return this.final({
            action: 'reject',
            reason: 'proxy_header_missing',
            detail: result.reason,
          });
        }
        return this.final({
          action: 'reject',
          reason: 'proxy_header_malformed',
          detail: result.reason,
        });
    }
  }

  /**
   * The header timer fired. `required` (trusted): rejected. `optional`: a header that
   * started but did not finish is rejected too; otherwise the connection goes on
   * without a header and the few bytes read (a strict prefix of a signature, or none)
   * are stream data.
   */
  timeout(): ProxyDecision {
    this.assertOpen();
    const fixed = this.fixedDecision(EMPTY);
    if (fixed) return this.final(fixed);
    if ((this.policy.mode === 'required' && this.trusted) || this.parser?.headerStarted === true) {
      return this.final({
        action: 'reject',
        reason: 'proxy_header_timeout',
        detail: `no complete header within ${this.policy.headerTimeoutMs} ms`,
      });
    }
    return this.withoutHeader();
  }

  /** The client closed its side before a decision. */
  end(): ProxyDecision {
    this.assertOpen();
    const fixed = this.fixedDecision(EMPTY);
    if (fixed) return this.final(fixed);
    if ((this.policy.mode === 'required' && this.trusted) || this.parser?.headerStarted === true) {
      const partial = (this.parser?.bufferedBytes ?? 0) > 0;
      return this.final({
        action: 'reject',
        reason: partial ? 'proxy_header_malformed' : 'proxy_header_missing',
        detail: partial
          ? 'connection closed inside the header'
          : 'connection closed before a header',
      });
    }
    return this.withoutHeader();
  }

  /**
   * `optional` mode, still undecided: what arrived is a strict prefix of a signature
   * (or nothing). It is not a header, so it goes through as stream bytes.
   */
  private withoutHeader(): ProxyDecision {
    const pending = this.parser ? this.parser.takeBuffered() : this.untrustedHead;
    return this.final({ action: 'accept', header: undefined, rest: pending });
  }

  /**
   * `optional` mode, untrusted source: look only for a signature. A full one means a
   * header the source may not send (it could spoof any address or identity), so the
   * connection is rejected rather than passing the header on to the target.
   */
  private pushUntrusted(chunk: Buffer): ProxyDecision {
    const head =
      this.untrustedHead.length === 0 ? chunk : Buffer.concat([this.untrustedHead, chunk]);
    const detected = detectVersion(head.subarray(0, PROXY_V2_SIGNATURE.length));
    if (detected === 'missing')
      return this.final({ action: 'accept', header: undefined, rest: head });
    if (detected === 'unknown') {
      this.untrustedHead = head;
      return WAIT;
    }
    return this.final({
      action: 'reject',
      reason: 'proxy_header_untrusted',
      detail: `PROXY v${detected} header from a source not in trustedCidrs`,
    });
  }

  private final(decision: ProxyAccept | ProxyReject): ProxyDecision {
    this.decided = true;
    this.untrustedHead = EMPTY;
    return decision;
  }

  private assertOpen(): void {
    if (this.decided)
      throw new IdentityError('PARSER_FINISHED', 'PROXY protocol decision already made');
  }
}

/**
 * One-shot decision over the bytes read so far: `wait` means read more (or, with
 * `timedOut`, the timeout applies; with `ended`, the client closed).
 */
export function decideProxyProtocol(
  policy: ResolvedProxyProtocolPolicy,
  remoteAddress: string | undefined,
  firstBytes: Buffer,
  options: { timedOut?: boolean; ended?: boolean } = {},
): ProxyDecision {
  const gate = new ProxyProtocolGate(policy, remoteAddress);
  let decision = gate.start();
  // Decided at accept (`off`): the bytes already read are stream data.
  if (decision.action === 'accept') return { ...decision, rest: firstBytes };
  if (decision.action === 'wait' && firstBytes.length > 0) decision = gate.push(firstBytes);
  if (decision.action === 'wait' && options.timedOut === true) decision = gate.timeout();
  if (decision.action === 'wait' && options.ended === true) decision = gate.end();
  return decision;
}

export type DatagramDecision =
  | {
      readonly action: 'accept';
      readonly header: ProxyHeader | undefined;
      readonly payload: Buffer;
    }
  | ProxyReject;

/**
 * The PROXY protocol decision for one UDP datagram (each carries its own v2 header).
 * Same modes as streams; there is no waiting and no timeout.
 */
export function decideProxyDatagram(
  policy: ResolvedProxyProtocolPolicy,
  remoteAddress: string | undefined,
  datagram: Buffer,
): DatagramDecision {
  if (policy.mode === 'off') return { action: 'accept', header: undefined, payload: datagram };
  const trusted = remoteAddress !== undefined && policy.trusted.has(remoteAddress);
  if (!trusted) {
    const signed =
      datagram.length >= PROXY_V2_SIGNATURE.length &&
      datagram.subarray(0, PROXY_V2_SIGNATURE.length).equals(PROXY_V2_SIGNATURE);
    if (policy.mode === 'required' || signed) {
      return {
        action: 'reject',
        reason: 'proxy_header_untrusted',
        detail: signed
          ? 'PROXY v2 header from a source not in trustedCidrs'
          : 'source is not in trustedCidrs',
      };
    }
    return { action: 'accept', header: undefined, payload: datagram };
  }
  const parsed = parseDatagramHeader(datagram, policy);
  if ('header' in parsed)
    return { action: 'accept', header: parsed.header, payload: parsed.payload };
  if (parsed.code === 'missing') {
    if (policy.mode === 'optional')
      return { action: 'accept', header: undefined, payload: datagram };
    return { action: 'reject', reason: 'proxy_header_missing', detail: parsed.error };
  }
  return { action: 'reject', reason: 'proxy_header_malformed', detail: parsed.error };
}
