import type { ParsedIp } from './ip.js';
import type { PeerIdentity } from './peer_map_file.js';
import type { ProxyHeader } from './proxy_header.js';

/** What a session records about its client, captured once at accept. */
export interface SessionIdentity {
  /** `''` when unknown. */
  readonly clientId: string;
  /** `''` when unknown. */
  readonly userId: string;
  /** The real client: the PROXY header's source when it gave one, else the socket's peer. */
  readonly sourceIp: string;
  readonly sourcePort: number;
  /** Where `clientId`/`userId` came from (for debugging and docs; not recorded). */
  readonly identitySource: 'proxy_tlv' | 'peer_map' | 'none';
}

export interface ResolveIdentityInput {
  /** The socket's remote address and port (the edge proxy when a header was sent). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The accepted PROXY header, if any. */
  readonly header?: ProxyHeader | undefined;
  readonly peerMap?: { lookup(ip: string | ParsedIp): PeerIdentity | undefined } | undefined;
}

/**
 * Precedence, whole identity at a time (never a mix of sources):
 * 1. the header's identity TLVs, when it carries either of them;
 * 2. the peer map entry for the real source address (the header's source when the
 *    header gave an IP address, else the socket's peer);
 * 3. empty.
 * A `local` header (the sender's own health check) and `unknown`/`unix` families keep
 * the socket's address.
 */
export function resolveSessionIdentity(input: ResolveIdentityInput): SessionIdentity {
  const { header } = input;
  const useHeaderAddress =
    header !== undefined &&
    header.command === 'proxy' &&
    header.family !== 'unknown' &&
    header.family !== 'unix' &&
    header.sourceAddress !== undefined &&
    header.sourcePort !== undefined;
  const sourceIp = useHeaderAddress
    ? (header.sourceAddress ?? input.remoteAddress)
    : input.remoteAddress;
  const sourcePort = useHeaderAddress ? (header.sourcePort ?? input.remotePort) : input.remotePort;
  if (header && (header.clientId !== undefined || header.userId !== undefined)) {
    return Object.freeze({
      clientId: header.clientId ?? '',
      userId: header.userId ?? '',
      sourceIp,
      sourcePort,
      identitySource: 'proxy_tlv',
    });
  }
  const peer = input.peerMap?.lookup(sourceIp);
  if (peer) {
    return Object.freeze({ ...peer, sourceIp, sourcePort, identitySource: 'peer_map' });
  }
  return Object.freeze({ clientId: '', userId: '', sourceIp, sourcePort, identitySource: 'none' });
}
