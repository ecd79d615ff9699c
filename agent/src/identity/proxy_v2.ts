import { crc32c } from './crc32c.js';
import { decodeIdentity } from './identity_text.js';
import { formatIp } from './ip.js';
import {
  PP2_TYPE,
  PROXY_V2_FIXED_BYTES,
  type ProxyFamily,
  type ProxyHeader,
  type ProxyTlv,
  type ResolvedParserOptions,
} from './proxy_header.js';

export type V2Result =
  | { readonly state: 'need-more' }
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly length: number }
  | { readonly state: 'error'; readonly reason: string };

/** Address block sizes per family nibble (specification, 2.2). */
const ADDRESS_BYTES: Readonly<Record<number, number>> = { 0x1: 12, 0x2: 36, 0x3: 216 };
const UNIX_PATH_BYTES = 108;
const FAMILIES: Readonly<Record<number, ProxyFamily>> = {
  0x11: 'tcp4',
  0x12: 'udp4',
  0x21: 'tcp6',
  0x22: 'udp6',
  0x31: 'unix',
  0x32: 'unix',
};
/** The SSL TLV value starts with `client` (1 byte) and `verify` (4 bytes). */
const SSL_FIXED_BYTES = 5;

/**
 * Total length of the v2 header starting at `buffer[0]` (signature already matched),
 * or undefined while fewer than 16 bytes are present.
 */
export function proxyV2Length(buffer: Buffer): number | undefined {
  if (buffer.length < PROXY_V2_FIXED_BYTES) return undefined;
  return PROXY_V2_FIXED_BYTES + buffer.readUInt16BE(14);
}

/**
 * Parse a complete v2 header (`buffer` holds at least `proxyV2Length` bytes and starts
 * with the signature). `datagram` demands a datagram family (or UNSPEC/LOCAL), since
 * a stream family on a UDP datagram means a misconfigured sender.
 */
export function parseProxyV2(
  buffer: Buffer,
  options: ResolvedParserOptions,
  datagram = false,
): V2Result {
  const total = proxyV2Length(buffer);
  if (total === undefined) return { state: 'need-more' };
  if (total > options.maxHeaderBytes) {
    return {
      state: 'error',
      reason: `v2: header of ${total} bytes exceeds ${options.maxHeaderBytes}`,
    };
  }
  if (buffer.length < total) return { state: 'need-more' };
  const verCmd = buffer[12] ?? 0;
  if (verCmd >> 4 !== 2) return { state: 'error', reason: 'v2: version must be 2' };
  const command = verCmd & 0x0f;
  if (command === 0x0) {
    // LOCAL: the sender's own connection (health check). The specification has the
    // receiver discard the whole block, family included, and use the real endpoints.
    const header: ProxyHeader = { version: 2, command: 'local', family: 'unknown', tlvs: [] };
    return { state: 'done', header, length: total };
  }
  if (command !== 0x1) return { state: 'error', reason: 'v2: command must be LOCAL or PROXY' };
  const famProto = buffer[13] ?? 0;
  if (famProto === 0x00) {
    // UNSPEC: nothing usable in the block; the real endpoints apply.
    const header: ProxyHeader = { version: 2, command: 'proxy', family: 'unknown', tlvs: [] };
    return { state: 'done', header, length: total };
  }
  const family = FAMILIES[famProto];
  if (family === undefined) {
    return { state: 'error', reason: `v2: unsupported family/transport 0x${hex(famProto)}` };
  }
  if (datagram && (famProto & 0x0f) !== 0x2) {
    return { state: 'error', reason: 'v2: stream family on a datagram' };
  }
  const addressBytes = ADDRESS_BYTES[famProto >> 4] ?? 0;
  const block = buffer.subarray(PROXY_V2_FIXED_BYTES, total);
  if (block.length < addressBytes) {
    return { state: 'error', reason: `v2: address block shorter than ${addressBytes} bytes` };
  }
  const addresses = readAddresses(block, family);
  const tlvs = readTlvs(buffer.subarray(0, total), PROXY_V2_FIXED_BYTES + addressBytes, options);
  if (typeof tlvs === 'string') return { state: 'error', reason: tlvs };
  const header: ProxyHeader = {
    version: 2,
    command: 'proxy',
    family,
    ...addresses,
    tlvs: tlvs.tlvs,
    ...(tlvs.clientId === undefined ? {} : { clientId: tlvs.clientId }),
    ...(tlvs.userId === undefined ? {} : { userId: tlvs.userId }),
  };
  return { state: 'done', header, length: total };
}

function readAddresses(
  block: Buffer,
  family: ProxyFamily,
): Pick<ProxyHeader, 'sourceAddress' | 'sourcePort' | 'destAddress' | 'destPort'> {
  if (family === 'unix') {
    return {
      sourceAddress: unixPath(block.subarray(0, UNIX_PATH_BYTES)),
      destAddress: unixPath(block.subarray(UNIX_PATH_BYTES, 2 * UNIX_PATH_BYTES)),
    };
  }
  const size = family === 'tcp4' || family === 'udp4' ? 4 : 16;
  return {
    sourceAddress: formatIp(block.subarray(0, size)),
    destAddress: formatIp(block.subarray(size, 2 * size)),
    sourcePort: block.readUInt16BE(2 * size),
    destPort: block.readUInt16BE(2 * size + 2),
  };
}

function unixPath(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end < 0 ? bytes.length : end);
}

interface TlvFindings {
  tlvs: ProxyTlv[];
  clientId?: string;
  userId?: string;
}

/**
 * Walk the TLVs of `header[start..]`. Lengths must tile the rest exactly; a CRC32C TLV
 * is verified over the whole header with its own value zeroed; identity TLVs must be
 * valid identities (a trusted sender that sends a bad one is misconfigured, and a
 * silently dropped identity would be recorded as "unknown").
 */
function readTlvs(
  header: Buffer,
  start: number,
  options: ResolvedParserOptions,
): TlvFindings | string {
  const found: TlvFindings = { tlvs: [] };
  let uniqueId: string | undefined;
  let crcOffset: number | undefined;
  let offset = start;
  while (offset < header.length) {
    if (offset + 3 > header.length) return 'v2: truncated TLV';
    const type = header[offset] ?? 0;
    const length = header.readUInt16BE(offset + 1);
    const valueStart = offset + 3;
    const valueEnd = valueStart + length;
    if (valueEnd > header.length) return `v2: TLV 0x${hex(type)} overruns the header`;
    const value = header.subarray(valueStart, valueEnd);
    offset = valueEnd;
    if (type === PP2_TYPE.NOOP) continue;
    if (type === PP2_TYPE.CRC32C) {
      if (length !== 4) return 'v2: CRC32C TLV must be 4 bytes';
      if (crcOffset !== undefined) return 'v2: more than one CRC32C TLV';
      crcOffset = valueStart;
    } else if (type === PP2_TYPE.SSL) {
      const problem = checkSsl(value);
      if (problem !== undefined) return problem;
    }
    // Copy: the header may sit in a large read buffer that must not stay pinned.
    found.tlvs.push({ type, value: Buffer.from(value) });
    if (type === options.clientIdTlv || type === options.userIdTlv) {
      const which = type === options.clientIdTlv ? 'clientId' : 'userId';
      if (found[which] !== undefined) return `v2: more than one ${which} TLV`;
      const decoded = decodeIdentity(value);
      if ('problem' in decoded) return `v2: ${which} TLV 0x${hex(type)} ${decoded.problem}`;
      if (decoded.text !== '') found[which] = decoded.text;
    } else if (type === PP2_TYPE.UNIQUE_ID && options.uniqueIdAsClientId) {
      const decoded = decodeIdentity(value);
      if ('problem' in decoded) return `v2: unique id TLV ${decoded.problem}`;
      if (decoded.text !== '') uniqueId = decoded.text;
    }
  }
  if (crcOffset !== undefined) {
    const expected = header.readUInt32BE(crcOffset);
    const zeroed = Buffer.from(header);
    zeroed.fill(0, crcOffset, crcOffset + 4);
    if (crc32c(zeroed) !== expected) return 'v2: CRC32C mismatch';
  }
  if (found.clientId === undefined && uniqueId !== undefined) found.clientId = uniqueId;
  return found;
}

/** The SSL TLV: 5 fixed bytes, then sub-TLVs that must tile the value exactly. */
function checkSsl(value: Buffer): string | undefined {
  if (value.length < SSL_FIXED_BYTES) return 'v2: SSL TLV shorter than 5 bytes';
  let offset = SSL_FIXED_BYTES;
  while (offset < value.length) {
    if (offset + 3 > value.length) return 'v2: truncated SSL sub-TLV';
    offset += 3 + value.readUInt16BE(offset + 1);
    if (offset > value.length) return 'v2: SSL sub-TLV overruns its TLV';
  }
  return undefined;
}

function hex(value: number): string {
  return value.toString(16).padStart(2, '0');
}
