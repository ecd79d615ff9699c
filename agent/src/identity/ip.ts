import { isIP } from 'node:net';
import { bytesToIp, ipToBytes } from '@connlog/proto';

/**
 * An IP address in one 16-byte space: IPv4 is held IPv4-mapped (`::ffff:a.b.c.d`), so
 * an IPv4 CIDR also matches the mapped form a dual-stack socket reports.
 */
export interface ParsedIp {
  /** How the text was written: dotted quad (4) or IPv6 (6, mapped forms included). */
  readonly version: 4 | 6;
  /** 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Parse an IP literal. Zone ids (`fe80::1%eth0`) are rejected unless `allowZone`, in
 * which case the zone is dropped (a socket may report one; CIDRs never carry one).
 */
export function parseIp(text: string, options: { allowZone?: boolean } = {}): ParsedIp | undefined {
  let address = text;
  const percent = address.indexOf('%');
  if (percent >= 0) {
    if (options.allowZone !== true) return undefined;
    address = address.slice(0, percent);
  }
  const version = isIP(address);
  if (version !== 4 && version !== 6) return undefined;
  const raw = ipToBytes(address);
  if (raw.length === 4) return { version, bytes: mapV4(raw) };
  if (raw.length === 16) return { version, bytes: raw };
  return undefined;
}

/** 4 bytes → 16 bytes IPv4-mapped. */
export function mapV4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out.set(MAPPED_PREFIX, 0);
  out.set(bytes.subarray(0, 4), 12);
  return out;
}

/** True when 16 bytes hold an IPv4-mapped address. */
export function isMappedV4(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  return MAPPED_PREFIX.every((value, index) => bytes[index] === value);
}

/**
 * Canonical text: dotted quad for 4 bytes; RFC 5952 for 16 bytes, with an IPv4-mapped
 * address written `::ffff:a.b.c.d` as that RFC recommends.
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytesToIp(bytes);
  if (isMappedV4(bytes)) return `::ffff:${bytesToIp(bytes.subarray(12, 16))}`;
  return bytesToIp(bytes);
}

/** Canonical text of a parsed address, in the family it was written in. */
export function formatParsedIp(ip: ParsedIp): string {
  return ip.version === 4 ? bytesToIp(ip.bytes.subarray(12, 16)) : formatIp(ip.bytes);
}
