import { isIP } from 'node:net';
import { formatParsedIp, parseIp } from './ip.js';
import { PROXY_V1_MAX_BYTES, type ProxyHeader } from './proxy_header.js';

/** Result of scanning the start of a buffer that begins with `PROXY `. */
export type V1Result =
  | { readonly state: 'need-more' }
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly length: number }
  | { readonly state: 'error'; readonly reason: string };

const CR = 0x0d;
const LF = 0x0a;
const PORT = /^(0|[1-9]\d{0,4})$/;

/**
 * Parse a v1 line (`PROXY TCP4 src dst sport dport\r\n`) strictly: printable ASCII,
 * single spaces, CRLF within 107 bytes, addresses of the announced family, ports
 * 0..65535 without leading zeros. Bad bytes fail as soon as they arrive, so a peer
 * cannot hold the parser open with a line that can never become valid.
 */
export function parseProxyV1(buffer: Buffer): V1Result {
  const scan = Math.min(buffer.length, PROXY_V1_MAX_BYTES);
  for (let i = 0; i < scan; i += 1) {
    const byte = buffer[i] ?? 0;
    if (byte === LF) {
      if (i === 0 || buffer[i - 1] !== CR) return { state: 'error', reason: 'v1: LF without CR' };
      const line = buffer.toString('latin1', 0, i - 1);
      const header = parseLine(line);
      return typeof header === 'string'
        ? { state: 'error', reason: header }
        : { state: 'done', header, length: i + 1 };
    }
    if (byte === CR) {
      if (i + 1 < buffer.length && buffer[i + 1] !== LF) {
        return { state: 'error', reason: 'v1: CR without LF' };
      }
      continue;
    }
    if (byte < 0x20 || byte > 0x7e) return { state: 'error', reason: 'v1: non-printable byte' };
  }
  if (buffer.length >= PROXY_V1_MAX_BYTES) {
    return { state: 'error', reason: `v1: no CRLF within ${PROXY_V1_MAX_BYTES} bytes` };
  }
  return { state: 'need-more' };
}

/** The line without CRLF → header, or a string saying what is wrong. */
function parseLine(line: string): ProxyHeader | string {
  const parts = line.split(' ');
  if (parts[0] !== 'PROXY') return 'v1: bad signature';
  const protocol = parts[1];
  if (protocol === 'UNKNOWN') {
    // The specification has receivers ignore whatever follows UNKNOWN.
    return { version: 1, command: 'proxy', family: 'unknown', tlvs: [] };
  }
  if (protocol !== 'TCP4' && protocol !== 'TCP6')
    return 'v1: protocol must be TCP4, TCP6 or UNKNOWN';
  if (parts.length !== 6) return 'v1: expected 4 fields after the protocol, single-spaced';
  const want = protocol === 'TCP4' ? 4 : 6;
  const source = address(parts[2] ?? '', want);
  if (source === undefined) return `v1: source address is not IPv${want}`;
  const dest = address(parts[3] ?? '', want);
  if (dest === undefined) return `v1: destination address is not IPv${want}`;
  const sourcePort = port(parts[4] ?? '');
  if (sourcePort === undefined) return 'v1: source port must be 0..65535';
  const destPort = port(parts[5] ?? '');
  if (destPort === undefined) return 'v1: destination port must be 0..65535';
  return {
    version: 1,
    command: 'proxy',
    family: protocol === 'TCP4' ? 'tcp4' : 'tcp6',
    sourceAddress: source,
    sourcePort,
    destAddress: dest,
    destPort,
    tlvs: [],
  };
}

function address(text: string, version: 4 | 6): string | undefined {
  if (isIP(text) !== version) return undefined;
  const parsed = parseIp(text);
  return parsed ? formatParsedIp(parsed) : undefined;
}

function port(text: string): number | undefined {
  if (!PORT.test(text)) return undefined;
  const value = Number(text);
  return value <= 0xffff ? value : undefined;
}
