import { IdentityError } from './errors.js';
import { formatParsedIp, parseIp, type ParsedIp } from './ip.js';

/** A parsed CIDR (a plain IP is a /32 or /128). */
export interface Cidr {
  /** Canonical text, e.g. `10.0.0.0/8`, `2001:db8::/32`, `1.2.3.4/32`. */
  readonly text: string;
  readonly version: 4 | 6;
  /** Prefix length as written: 0..32 for IPv4, 0..128 for IPv6. */
  readonly prefixLength: number;
  /** Prefix length in the 16-byte space (IPv4 adds the 96 bits of the mapped prefix). */
  readonly bits: number;
  /** 16 bytes, host bits zero. */
  readonly network: Uint8Array;
}

/**
 * Parse `a.b.c.d/n`, `v6/n` or a plain IP. Host bits must be zero (`10.0.0.1/8` is
 * almost always a typo, so it fails naming the network meant). Throws `CIDR_INVALID`
 * with a message that starts with `path`.
 */
export function parseCidr(text: string, path = 'cidr'): Cidr {
  const fail = (why: string): never => {
    throw new IdentityError(
      'CIDR_INVALID',
      `${path}: invalid CIDR ${JSON.stringify(text)}: ${why}`,
    );
  };
  if (typeof text !== 'string') return fail('expected a string');
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addressText);
  if (!ip) return fail('not an IPv4 or IPv6 address');
  const max = ip.version === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(lengthText)) return fail(`prefix length must be 0..${max}`);
    prefixLength = Number(lengthText);
    if (prefixLength > max) return fail(`prefix length must be 0..${max}`);
  }
  const bits = ip.version === 4 ? prefixLength + 96 : prefixLength;
  const network = maskBytes(ip.bytes, bits);
  if (!equalBytes(network, ip.bytes)) {
    const meant = formatParsedIp({ version: ip.version, bytes: network });
    return fail(`host bits are set (did you mean ${meant}/${prefixLength}?)`);
  }
  const canonical = `${formatParsedIp(ip)}/${prefixLength}`;
  return { text: canonical, version: ip.version, prefixLength, bits, network };
}

/**
 * Identity of a CIDR as a set of addresses: `10.0.0.0/8` and `::ffff:10.0.0.0/104`
 * are the same set and share a key.
 */
export function cidrKey(cidr: Cidr): string {
  return `${cidr.bits}/${Buffer.from(cidr.network).toString('hex')}`;
}

/** Address text or parsed → 16-byte form; socket zone ids are dropped. */
function toParsed(ip: string | ParsedIp): ParsedIp | undefined {
  return typeof ip === 'string' ? parseIp(ip, { allowZone: true }) : ip;
}

/**
 * Whether `ip` lies in `cidr`. An IPv4 CIDR also matches the IPv4-mapped IPv6 form
 * (`::ffff:10.1.2.3` is in `10.0.0.0/8`). An unparsable address is in no CIDR.
 */
export function contains(cidr: Cidr | string, ip: string | ParsedIp): boolean {
  const parsedCidr = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const parsedIp = toParsed(ip);
  if (!parsedIp) return false;
  return (
    prefixKey(parsedIp.bytes, parsedCidr.bits) === prefixKey(parsedCidr.network, parsedCidr.bits)
  );
}

/** The first `bits` bits of 16 bytes, the rest zeroed. */
function maskBytes(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i += 1) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff00 >> keep) & 0xff);
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/** A string key of the first `bits` bits, so prefixes compare with one Map lookup. */
function prefixKey(bytes: Uint8Array, bits: number): string {
  const whole = bits >> 3;
  let key = '';
  for (let i = 0; i < whole; i += 1) key += String.fromCharCode(bytes[i] ?? 0);
  const rest = bits & 7;
  if (rest > 0) key += String.fromCharCode((bytes[whole] ?? 0) & ((0xff00 >> rest) & 0xff));
  return key;
}

export interface CidrMatch<T> {
  readonly cidr: Cidr;
  readonly value: T;
}

/**
 * Longest-prefix match over a fixed set of CIDRs. Entries are grouped by prefix
 * length, one hash map per length, so a lookup costs one map probe per distinct prefix
 * length present (at most 129), whatever the number of entries; building is O(n).
 * Immutable: a new set of entries means a new table (reloads swap tables).
 */
export class CidrTable<T> {
  /** Prefix lengths present, longest first, each with its networks. */
  private readonly levels: { bits: number; entries: Map<string, CidrMatch<T>> }[] = [];
  readonly size: number;

  /** Throws `CIDR_INVALID` on a duplicate CIDR (callers that can name entries check first). */
  constructor(entries: Iterable<readonly [Cidr, T]>) {
    const byBits = new Map<number, Map<string, CidrMatch<T>>>();
    let size = 0;
    for (const [cidr, value] of entries) {
      let level = byBits.get(cidr.bits);
      if (!level) {
        level = new Map();
        byBits.set(cidr.bits, level);
      }
      const key = prefixKey(cidr.network, cidr.bits);
      if (level.has(key)) {
        throw new IdentityError('CIDR_INVALID', `duplicate CIDR ${cidr.text}`);
      }
      level.set(key, { cidr, value });
      size += 1;
    }
    this.size = size;
    for (const bits of [...byBits.keys()].sort((a, b) => b - a)) {
      const level = byBits.get(bits);
      if (level) this.levels.push({ bits, entries: level });
    }
  }

  /** The most specific entry containing `ip`, or undefined (also for an unparsable address). */
  lookup(ip: string | ParsedIp): CidrMatch<T> | undefined {
    const parsed = toParsed(ip);
    if (!parsed) return undefined;
    for (const level of this.levels) {
      const match = level.entries.get(prefixKey(parsed.bytes, level.bits));
      if (match) return match;
    }
    return undefined;
  }

  /** Whether any entry contains `ip`. */
  has(ip: string | ParsedIp): boolean {
    return this.lookup(ip) !== undefined;
  }
}
