import { isIP } from 'node:net';

/**
 * IP addresses travel as raw bytes: 4 for IPv4, 16 for IPv6. IPv4-mapped IPv6
 * addresses (`::ffff:1.2.3.4`, what a dual-stack socket reports) are sent as IPv4.
 */
export function ipToBytes(address: string): Uint8Array {
  // Called for every session: dotted quads, plain or mapped (the common cases), are
  // parsed in one pass without the regex, split and isIP below.
  const mapped4 = address.charCodeAt(0) === 58 /* : */ && MAPPED_PREFIX.test(address);
  const quad = parseDottedQuad(address, mapped4 ? 7 : 0);
  if (quad !== undefined) return quad;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const text = mapped?.[1] ?? address;
  const family = isIP(text);
  if (family === 4) {
    return Uint8Array.from(text.split('.').map((part) => Number(part)));
  }
  if (family === 6) return ipv6ToBytes(text);
  return new Uint8Array(0);
}

const MAPPED_PREFIX = /^::ffff:/i;

/**
 * `address` from `start` as a strict dotted quad (four decimal parts 0-255, no leading
 * zeros, as `isIP` accepts them), else undefined.
 */
function parseDottedQuad(address: string, start: number): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i < address.length; i += 1) {
    const c = address.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return undefined;
      out[part] = value;
      part += 1;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 48);
      digits += 1;
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || part !== 3) return undefined;
  out[3] = value;
  return out;
}

function ipv6ToBytes(text: string): Uint8Array {
  const zoneless = text.split('%')[0] ?? text;
  let head = zoneless;
  let tail = '';
  const doubleColon = zoneless.indexOf('::');
  if (doubleColon >= 0) {
    head = zoneless.slice(0, doubleColon);
    tail = zoneless.slice(doubleColon + 2);
  }
  const parseGroups = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const octets = group.split('.').map(Number);
        groups.push(((octets[0] ?? 0) << 8) | (octets[1] ?? 0));
        groups.push(((octets[2] ?? 0) << 8) | (octets[3] ?? 0));
      } else {
        groups.push(parseInt(group, 16));
      }
    }
    return groups;
  };
  const left = parseGroups(head);
  const right = parseGroups(tail);
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  const all = doubleColon >= 0 ? [...left, ...zeros, ...right] : left;
  const out = new Uint8Array(16);
  all.forEach((group, index) => {
    out[index * 2] = (group >> 8) & 0xff;
    out[index * 2 + 1] = group & 0xff;
  });
  return out;
}

/** Bytes → text: dotted quad for 4 bytes, RFC 5952 for 16; `''` for anything else. */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return '';
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // Longest run of zero groups (length >= 2) collapses to '::'.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLength).join(':');
  return `${left}::${right}`;
}

/** IPv4 or IPv6 bytes → IPv6 text with IPv4 mapped (`::ffff:1.2.3.4`), for ClickHouse IPv6. */
export function bytesToIpv6Text(bytes: Uint8Array): string {
  // Written out, not Array.from().join(): this runs twice per stored event (ingest hot path).
  if (bytes.length === 4) {
    return `::ffff:${String(bytes[0])}.${String(bytes[1])}.${String(bytes[2])}.${String(bytes[3])}`;
  }
  if (bytes.length === 16) return bytesToIp(bytes);
  return '::';
}
