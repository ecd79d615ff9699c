import { IdentityError } from './errors.js';

/** What a PROXY protocol header (v1 text or v2 binary) said about a connection. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  /**
   * `proxy`: the connection is relayed on behalf of the addresses below. `local`: the
   * sender opened it for itself (a health check); use the real socket endpoints.
   */
  readonly command: ProxyCommand;
  readonly family: ProxyFamily;
  /** Canonical IP text, or a socket path for `unix`; absent for `unknown` and `local`. */
  readonly sourceAddress?: string;
  readonly sourcePort?: number;
  readonly destAddress?: string;
  readonly destPort?: number;
  /** v2 TLVs in header order, `PP2_TYPE_NOOP` left out; always empty for v1. */
  readonly tlvs: readonly ProxyTlv[];
  /** From the client id TLV (or `PP2_TYPE_UNIQUE_ID` when so configured). */
  readonly clientId?: string;
  /** From the user id TLV. */
  readonly userId?: string;
}

export type ProxyCommand = 'proxy' | 'local';
export type ProxyFamily = 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix' | 'unknown';

export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** TLV type numbers from the PROXY protocol specification (section 2.2). */
export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  SSL_VERSION: 0x21,
  SSL_CN: 0x22,
  SSL_CIPHER: 0x23,
  SSL_SIG_ALG: 0x24,
  SSL_KEY_ALG: 0x25,
  NETNS: 0x30,
  MIN_CUSTOM: 0xe0,
  MAX_CUSTOM: 0xef,
} as const;

/** connlog's default TLV carrying the client id (UTF-8). */
export const DEFAULT_CLIENT_ID_TLV = 0xe1;
/** connlog's default TLV carrying the user id (UTF-8). */
export const DEFAULT_USER_ID_TLV = 0xe2;

/** The v1 line, `PROXY` through CRLF, is at most this long (specification, 2.1). */
export const PROXY_V1_MAX_BYTES = 107;
/** The v1 header starts with these 6 bytes. */
export const PROXY_V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The v2 header starts with these 12 bytes. */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
/** Fixed part of a v2 header: signature, ver/cmd, fam/proto, 2-byte length. */
export const PROXY_V2_FIXED_BYTES = 16;
/** Largest v2 header the specification allows (16 + 65535). */
export const PROXY_V2_MAX_BYTES = PROXY_V2_FIXED_BYTES + 0xffff;
/** Smallest cap on a v2 header: room for two UNIX socket paths (16 + 216). */
export const PROXY_V2_MIN_CAP = PROXY_V2_FIXED_BYTES + 216;

export interface ProxyParserOptions {
  /**
   * Largest v2 header accepted, fixed part included; a header announcing more is
   * rejected as malformed before its body is read, so a peer cannot make the agent
   * buffer 64 KiB per connection. 232..65551.
   * @default 4096
   */
  readonly maxHeaderBytes?: number;
  /** TLV type carrying the client id. 0x01..0xff, not 0x03, 0x04, 0x20. @default 0xe1 */
  readonly clientIdTlv?: number;
  /** TLV type carrying the user id. Same range; differs from `clientIdTlv`. @default 0xe2 */
  readonly userIdTlv?: number;
  /** Take `PP2_TYPE_UNIQUE_ID` (0x05) as the client id when the client id TLV is absent. @default false */
  readonly uniqueIdAsClientId?: boolean;
}

/** Parser options with defaults applied and checked. */
export interface ResolvedParserOptions {
  readonly maxHeaderBytes: number;
  readonly clientIdTlv: number;
  readonly userIdTlv: number;
  readonly uniqueIdAsClientId: boolean;
}

export const DEFAULT_MAX_HEADER_BYTES = 4096;

/** TLV types the parser interprets itself; they cannot carry an identity. */
const RESERVED_TLVS: readonly number[] = [PP2_TYPE.CRC32C, PP2_TYPE.NOOP, PP2_TYPE.SSL];

/**
 * Apply defaults and check ranges. Throws `POLICY_INVALID` naming the key under
 * `path` (e.g. `proxyProtocol.clientIdTlv: ...`).
 */
export function resolveParserOptions(
  options: ProxyParserOptions = {},
  path = 'proxyProtocol',
): ResolvedParserOptions {
  const fail = (key: string, why: string): never => {
    throw new IdentityError('POLICY_INVALID', `${path}.${key}: ${why}`);
  };
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (
    !Number.isInteger(maxHeaderBytes) ||
    maxHeaderBytes < PROXY_V2_MIN_CAP ||
    maxHeaderBytes > PROXY_V2_MAX_BYTES
  ) {
    fail(
      'maxHeaderBytes',
      `expected an integer ${PROXY_V2_MIN_CAP}..${PROXY_V2_MAX_BYTES}, got ${String(maxHeaderBytes)}`,
    );
  }
  const tlv = (key: string, value: number): number => {
    if (!Number.isInteger(value) || value < 1 || value > 0xff) {
      fail(key, `expected a TLV type 1..255, got ${String(value)}`);
    }
    if (RESERVED_TLVS.includes(value)) {
      fail(key, `TLV type 0x${value.toString(16)} is reserved (CRC32C, NOOP or SSL)`);
    }
    return value;
  };
  const clientIdTlv = tlv('clientIdTlv', options.clientIdTlv ?? DEFAULT_CLIENT_ID_TLV);
  const userIdTlv = tlv('userIdTlv', options.userIdTlv ?? DEFAULT_USER_ID_TLV);
  if (clientIdTlv === userIdTlv) fail('userIdTlv', 'must differ from clientIdTlv');
  return {
    maxHeaderBytes,
    clientIdTlv,
    userIdTlv,
    uniqueIdAsClientId: options.uniqueIdAsClientId ?? false,
  };
}
