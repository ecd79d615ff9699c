import { ipToBytes } from '@connlog/proto';
import type { SessionRow } from '../../store/store.js';
import type { AddressMatch } from '../filters/address.js';
import type { LiveFilters } from '../filters/parse.js';

/**
 * The network-log filters evaluated in JS against one stored row, for the live tail.
 * It must agree with the SQL of `filters/sql.ts` on every row (an integration test
 * runs both over the same rows): values OR-ed within a filter, filters AND-ed,
 * addresses compared as 128-bit numbers in the IPv4-mapped IPv6 space, `status`
 * derived from `ended_at` as the table's DEFAULT does.
 */

/** The list filters, with the optional time window the SQL side also applies. */
export type RowFilters = LiveFilters & { fromMs?: number; toMs?: number };

export type RowPredicate = (row: SessionRow) => boolean;

const ALL_BITS = (1n << 128n) - 1n;

/** An IPv4 or IPv6 text as a 128-bit number, IPv4 mapped (`::ffff:a.b.c.d`); undefined if not an IP. */
export function ipToBigInt(text: string): bigint | undefined {
  const bytes = ipToBytes(text);
  if (bytes.length === 0) return undefined;
  let value = bytes.length === 4 ? 0xffffn : 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

type AddressTest = (ip: bigint, port: number) => boolean;

function addressTest(match: AddressMatch): AddressTest {
  if (match.kind === 'cidr') {
    const network = ipToBigInt(match.network) ?? 0n;
    const hostBits = BigInt(128 - match.prefix);
    const mask = ALL_BITS ^ ((1n << hostBits) - 1n);
    const first = network & mask;
    const last = first | (ALL_BITS ^ mask);
    return (ip) => ip >= first && ip <= last;
  }
  const want = ipToBigInt(match.ip);
  const port = match.port;
  return port === undefined
    ? (ip) => ip === want
    : (ip, rowPort) => ip === want && rowPort === port;
}

function anyAddress(matches: readonly AddressMatch[]): AddressTest | undefined {
  if (matches.length === 0) return undefined;
  const tests = matches.map(addressTest);
  return (ip, port) => tests.some((test) => test(ip, port));
}

function inSet<T>(values: readonly T[]): ((value: T) => boolean) | undefined {
  if (values.length === 0) return undefined;
  const set = new Set(values);
  return (value) => set.has(value);
}

/**
 * Compile `filters` once per subscriber; the predicate does no I/O and allocates
 * little (a bigint per address filter), so a row costs each client O(filter values).
 */
export function compileFilters(filters: RowFilters): RowPredicate {
  const tests: RowPredicate[] = [];
  const { fromMs, toMs } = filters;
  if (fromMs !== undefined) tests.push((row) => row.started_at >= fromMs);
  if (toMs !== undefined) tests.push((row) => row.started_at < toMs);
  const text = (values: readonly string[], get: (row: SessionRow) => string): void => {
    const has = inSet(values);
    if (has) tests.push((row) => has(get(row)));
  };
  text(filters.sites, (row) => row.site_id);
  text(filters.resources, (row) => row.resource_id);
  text(filters.clients, (row) => row.client_id);
  text(filters.users, (row) => row.user_id);
  text(filters.protocols, (row) => row.protocol);
  // The stored status is the column DEFAULT over ended_at, whatever the row said.
  text(filters.statuses, (row) => (row.ended_at === null ? 'ongoing' : 'completed'));
  text(filters.closeReasons, (row) => row.close_reason);
  text(filters.sessionIds, (row) => row.session_id.toLowerCase());
  const port = inSet(filters.destPorts);
  if (port) tests.push((row) => port(row.dest_port));
  const source = anyAddress(filters.sources);
  if (source) {
    tests.push((row) => {
      const ip = ipToBigInt(row.source_ip);
      return ip !== undefined && source(ip, row.source_port);
    });
  }
  const dest = anyAddress(filters.dests);
  if (dest) {
    tests.push((row) => {
      const ip = ipToBigInt(row.dest_ip);
      return ip !== undefined && dest(ip, row.dest_port);
    });
  }
  if (filters.minBytes !== undefined) {
    const min = BigInt(filters.minBytes);
    tests.push((row) => BigInt(row.bytes_tx) + BigInt(row.bytes_rx) >= min);
  }
  return (row) => tests.every((test) => test(row));
}

/** Does the stored `row` match `filters`? (The org is the caller's to check.) */
export function matchesFilters(row: SessionRow, filters: RowFilters): boolean {
  return compileFilters(filters)(row);
}
