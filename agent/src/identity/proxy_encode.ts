import { crc32c } from './crc32c.js';
import { IdentityError } from './errors.js';
import { identityTextProblem } from './identity_text.js';
import { isMappedV4, parseIp } from './ip.js';
import {
  DEFAULT_CLIENT_ID_TLV,
  DEFAULT_USER_ID_TLV,
  PP2_TYPE,
  PROXY_V1_MAX_BYTES,
  PROXY_V2_FIXED_BYTES,
  PROXY_V2_MAX_BYTES,
  PROXY_V2_SIGNATURE,
  type ProxyFamily,
} from './proxy_header.js';

export interface ProxyV1Fields {
  readonly family: 'tcp4' | 'tcp6' | 'unknown';
  /** Required unless `family` is `unknown`. */
  readonly sourceAddress?: string;
  readonly sourcePort?: number;
  readonly destAddress?: string;
  readonly destPort?: number;
}

export interface ProxyV2Fields {
  /** @default "proxy" */
  readonly command?: 'proxy' | 'local';
  /** @default "unknown" (UNSPEC, no addresses) */
  readonly family?: ProxyFamily;
  /** IP for tcp/udp families, socket path (at most 107 bytes) for `unix`. */
  readonly sourceAddress?: string;
  readonly sourcePort?: number;
  readonly destAddress?: string;
  readonly destPort?: number;
  /** Extra TLVs, written in order after the address block. */
  readonly tlvs?: readonly { readonly type: number; readonly value: Uint8Array | string }[];
  /** Written as a TLV of type `clientIdTlv` (checked like the parser checks it). */
  readonly clientId?: string;
  readonly userId?: string;
  /** @default 0xe1 */
  readonly clientIdTlv?: number;
  /** @default 0xe2 */
  readonly userIdTlv?: number;
  /** Append a PP2_TYPE_CRC32C TLV over the finished header. @default false */
  readonly crc32c?: boolean;
}

const FAMILY_BYTES: Readonly<Record<ProxyFamily, number>> = {
  unknown: 0x00,
  tcp4: 0x11,
  udp4: 0x12,
  tcp6: 0x21,
  udp6: 0x22,
  unix: 0x31,
};
const UNIX_PATH_BYTES = 108;

function fail(key: string, why: string): never {
  throw new IdentityError('ENCODE_INVALID', `${key}: ${why}`);
}

function checkPort(key: string, value: number | undefined): number {
  if (value === undefined || !Number.isInteger(value) || value < 0 || value > 0xffff) {
    fail(key, `expected a port 0..65535, got ${String(value)}`);
  }
  return value;
}

/** Encode a v1 line. Throws `ENCODE_INVALID` naming the bad field. */
export function encodeProxyV1(fields: ProxyV1Fields): Buffer {
  if (fields.family === 'unknown') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const version = fields.family === 'tcp4' ? 4 : 6;
  const address = (key: string, text: string | undefined): string => {
    const parsed = text === undefined ? undefined : parseIp(text);
    if (!parsed || parsed.version !== version) fail(key, `expected an IPv${version} address`);
    return text as string;
  };
  const line = [
    'PROXY',
    version === 4 ? 'TCP4' : 'TCP6',
    address('sourceAddress', fields.sourceAddress),
    address('destAddress', fields.destAddress),
    String(checkPort('sourcePort', fields.sourcePort)),
    String(checkPort('destPort', fields.destPort)),
  ].join(' ');
  const out = Buffer.from(`${line}\r\n`, 'latin1');
  if (out.length > PROXY_V1_MAX_BYTES) fail('(header)', `longer than ${PROXY_V1_MAX_BYTES} bytes`);
  return out;
}

/** Encode a v2 header. Throws `ENCODE_INVALID` naming the bad field. */
export function encodeProxyV2(fields: ProxyV2Fields): Buffer {
  const command = fields.command ?? 'proxy';
  const family = fields.family ?? 'unknown';
  const parts: Buffer[] = [addressBlock(family, fields)];
  const tlv = (type: number, value: Uint8Array | string): void => {
    if (!Number.isInteger(type) || type < 0 || type > 0xff)
      fail('tlvs', `type ${String(type)} is not 0..255`);
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    if (bytes.length > 0xffff)
      fail('tlvs', `value of TLV 0x${type.toString(16)} longer than 65535 bytes`);
    const head = Buffer.alloc(3);
    head[0] = type;
    head.writeUInt16BE(bytes.length, 1);
    parts.push(head, bytes);
  };
  for (const [key, value, type] of [
    ['clientId', fields.clientId, fields.clientIdTlv ?? DEFAULT_CLIENT_ID_TLV],
    ['userId', fields.userId, fields.userIdTlv ?? DEFAULT_USER_ID_TLV],
  ] as const) {
    if (value === undefined) continue;
    const problem = identityTextProblem(value);
    if (problem !== undefined) fail(key, problem);
    tlv(type, value);
  }
  for (const extra of fields.tlvs ?? []) tlv(extra.type, extra.value);
  if (fields.crc32c === true) tlv(PP2_TYPE.CRC32C, Buffer.alloc(4));
  const body = Buffer.concat(parts);
  if (PROXY_V2_FIXED_BYTES + body.length > PROXY_V2_MAX_BYTES)
    fail('(header)', 'longer than 65551 bytes');
  const fixed = Buffer.alloc(PROXY_V2_FIXED_BYTES);
  PROXY_V2_SIGNATURE.copy(fixed, 0);
  fixed[12] = command === 'local' ? 0x20 : 0x21;
  fixed[13] = FAMILY_BYTES[family];
  fixed.writeUInt16BE(body.length, 14);
  const header = Buffer.concat([fixed, body]);
  if (fields.crc32c === true) header.writeUInt32BE(crc32c(header), header.length - 4);
  return header;
}

function addressBlock(family: ProxyFamily, fields: ProxyV2Fields): Buffer {
  if (family === 'unknown') return Buffer.alloc(0);
  if (family === 'unix') {
    const block = Buffer.alloc(2 * UNIX_PATH_BYTES);
    for (const [key, path, offset] of [
      ['sourceAddress', fields.sourceAddress, 0],
      ['destAddress', fields.destAddress, UNIX_PATH_BYTES],
    ] as const) {
      const bytes = Buffer.from(path ?? '', 'utf8');
      if (bytes.length >= UNIX_PATH_BYTES)
        fail(key, `socket path longer than ${UNIX_PATH_BYTES - 1} bytes`);
      bytes.copy(block, offset);
    }
    return block;
  }
  const v4 = family === 'tcp4' || family === 'udp4';
  const size = v4 ? 4 : 16;
  const block = Buffer.alloc(2 * size + 4);
  for (const [key, text, offset] of [
    ['sourceAddress', fields.sourceAddress, 0],
    ['destAddress', fields.destAddress, size],
  ] as const) {
    const parsed = text === undefined ? undefined : parseIp(text);
    if (!parsed) fail(key, 'expected an IP address');
    if (v4 && !isMappedV4(parsed.bytes)) fail(key, `expected an IPv4 address for ${family}`);
    block.set(v4 ? parsed.bytes.subarray(12, 16) : parsed.bytes, offset);
  }
  block.writeUInt16BE(checkPort('sourcePort', fields.sourcePort), 2 * size);
  block.writeUInt16BE(checkPort('destPort', fields.destPort), 2 * size + 2);
  return block;
}
