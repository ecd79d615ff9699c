import type { ResourceConfig } from '../config/options.js';
import { toProxyProtocolPolicy } from '../config/proxy_protocol.js';
import type { ProxyReject } from '../identity/gate.js';
import type { ParsedIp } from '../identity/ip.js';
import type { PeerIdentity } from '../identity/peer_map_file.js';
import {
  resolveProxyProtocolPolicy,
  type ResolvedProxyProtocolPolicy,
} from '../identity/policy.js';
import type { ProxyHeader } from '../identity/proxy_header.js';
import { resolveSessionIdentity } from '../identity/resolve.js';
import type { IdentityTelemetry } from '../identity/telemetry.js';

/** What the proxies need from the agent to tell who a session belongs to. */
export interface IdentityDeps {
  /** The peer map in effect (it swaps its table on reload), or undefined. */
  readonly peerMap: { lookup(ip: string | ParsedIp): PeerIdentity | undefined } | undefined;
  readonly telemetry: IdentityTelemetry;
}

/** Who a session is, as the recorder takes it at `start`. */
export interface AcceptedIdentity {
  readonly clientId: string;
  readonly userId: string;
  /** The real client: the PROXY header's source, else the socket's peer. */
  readonly sourceAddress: string | undefined;
  readonly sourcePort: number | undefined;
}

/**
 * One resource's PROXY protocol policy and identity lookup. The identity is decided
 * once, when a session is accepted (TLV, else peer map by the real source, else empty),
 * and handed to the recorder before `START`: later peer map reloads never change it.
 */
export class ResourceIdentity {
  readonly policy: ResolvedProxyProtocolPolicy;

  constructor(
    private readonly resource: ResourceConfig,
    private readonly deps: IdentityDeps,
  ) {
    this.policy = resolveProxyProtocolPolicy(
      toProxyProtocolPolicy(resource.proxyProtocol),
      `resources.${resource.id}.proxyProtocol`,
    );
  }

  /** Whether PROXY headers are read on this resource (`mode` is not `off`). */
  get headersEnabled(): boolean {
    return this.policy.mode !== 'off';
  }

  resolve(
    remoteAddress: string | undefined,
    remotePort: number | undefined,
    header?: ProxyHeader,
  ): AcceptedIdentity {
    if (remoteAddress === undefined) {
      // The socket is already gone (its peer unknown): nothing to look up.
      return { clientId: '', userId: '', sourceAddress: undefined, sourcePort: remotePort };
    }
    const id = resolveSessionIdentity({
      remoteAddress,
      remotePort: remotePort ?? 0,
      header,
      peerMap: this.deps.peerMap,
    });
    return {
      clientId: id.clientId,
      userId: id.userId,
      sourceAddress: id.sourceIp,
      sourcePort: id.sourcePort,
    };
  }

  /** A connection or datagram went through the policy (with a header or without). */
  accepted(header: ProxyHeader | undefined): void {
    if (!this.headersEnabled) return;
    this.deps.telemetry.proxyHeaderAccepted(this.resource.id, header?.version ?? 'none');
  }

  /** Counted per connection or datagram; logged once per reason at WARN, then debug. */
  rejected(reject: ProxyReject, remoteAddress: string | undefined): void {
    this.deps.telemetry.proxyHeaderRejected(
      this.resource.id,
      reject.reason,
      reject.detail,
      remoteAddress ?? '',
    );
  }
}

/**
 * The real client address a PROXY header gives, when it gives one (a `proxy` command
 * with an IP family); the rule `resolveSessionIdentity` applies to `source_ip`.
 */
export function headerSource(
  header: ProxyHeader | undefined,
): { address: string; port: number } | undefined {
  if (
    header === undefined ||
    header.command !== 'proxy' ||
    header.family === 'unknown' ||
    header.family === 'unix' ||
    header.sourceAddress === undefined ||
    header.sourcePort === undefined
  ) {
    return undefined;
  }
  return { address: header.sourceAddress, port: header.sourcePort };
}
