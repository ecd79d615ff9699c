export { IdentityError } from './errors.js';
export type { IdentityErrorCode } from './errors.js';

export { parseIp, formatIp, formatParsedIp, mapV4, isMappedV4 } from './ip.js';
export type { ParsedIp } from './ip.js';
export { parseCidr, contains, cidrKey, CidrTable } from './cidr.js';
export type { Cidr, CidrMatch } from './cidr.js';
export { crc32c } from './crc32c.js';
export { MAX_IDENTITY_BYTES, identityTextProblem, decodeIdentity } from './identity_text.js';

export {
  PP2_TYPE,
  DEFAULT_CLIENT_ID_TLV,
  DEFAULT_USER_ID_TLV,
  DEFAULT_MAX_HEADER_BYTES,
  PROXY_V1_MAX_BYTES,
  PROXY_V1_PREFIX,
  PROXY_V2_SIGNATURE,
  PROXY_V2_FIXED_BYTES,
  PROXY_V2_MAX_BYTES,
  PROXY_V2_MIN_CAP,
  resolveParserOptions,
} from './proxy_header.js';
export type {
  ProxyHeader,
  ProxyCommand,
  ProxyFamily,
  ProxyTlv,
  ProxyParserOptions,
  ResolvedParserOptions,
} from './proxy_header.js';
export {
  ProxyHeaderParser,
  parseProxyHeader,
  parseDatagramHeader,
  detectVersion,
} from './proxy_protocol.js';
export type { ProxyParseResult, ProxyParseError, DatagramParseResult } from './proxy_protocol.js';
export { encodeProxyV1, encodeProxyV2 } from './proxy_encode.js';
export type { ProxyV1Fields, ProxyV2Fields } from './proxy_encode.js';

export {
  PROXY_PROTOCOL_MODES,
  DEFAULT_HEADER_TIMEOUT_MS,
  resolveProxyProtocolPolicy,
  isTrustedSource,
} from './policy.js';
export type {
  ProxyProtocolMode,
  ProxyProtocolPolicy,
  ResolvedProxyProtocolPolicy,
} from './policy.js';
export {
  ProxyProtocolGate,
  PROXY_REJECT_REASONS,
  decideProxyProtocol,
  decideProxyDatagram,
} from './gate.js';
export type {
  ProxyDecision,
  ProxyAccept,
  ProxyReject,
  ProxyRejectReason,
  DatagramDecision,
} from './gate.js';

export { PEER_MAP_MAX_BYTES, parsePeerMap } from './peer_map_file.js';
export type { PeerIdentity } from './peer_map_file.js';
export { createPeerMap } from './peer_map.js';
export type {
  PeerMap,
  PeerMapOptions,
  PeerMapReloadEvent,
  PeerMapReloadTrigger,
  PeerMapStats,
} from './peer_map.js';
export { resolveSessionIdentity } from './resolve.js';
export type { SessionIdentity, ResolveIdentityInput } from './resolve.js';
export { IdentityTelemetry } from './telemetry.js';
