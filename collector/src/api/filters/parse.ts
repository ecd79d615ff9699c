import { CLOSE_REASON_NAMES, PROTOCOL_NAMES, isValidToken } from '@connlog/proto';
import type { CloseReasonName, ProtocolName } from '@connlog/proto';
import { ApiError, invalidFilter } from '../errors.js';
import { decodeCursor } from '../cursor.js';
import type { Cursor } from '../cursor.js';
import { parseAddress } from './address.js';
import type { AddressMatch } from './address.js';
import { parseTime } from './time.js';

/** Everything the network-logs filters can say, validated. Arrays are OR-ed; filters AND-ed. */
export interface NetworkLogFilters {
  /** Inclusive lower bound on `started_at`, ms. */
  fromMs: number;
  /** Exclusive upper bound on `started_at`, ms; none when absent. */
  toMs?: number;
  sites: string[];
  resources: string[];
  clients: string[];
  users: string[];
  protocols: ProtocolName[];
  sources: AddressMatch[];
  dests: AddressMatch[];
  destPorts: number[];
  statuses: ('ongoing' | 'completed')[];
  closeReasons: CloseReasonName[];
  /** Lower bound on bytes_tx + bytes_rx, as a decimal string (UInt64). */
  minBytes?: string;
  sessionIds: string[];
}

export interface PageOptions {
  limit: number;
  cursor?: Cursor;
  count: boolean;
}

/** `from` when absent: 24 hours before the request. */
export const DEFAULT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Bound on the values of one repeated filter (each becomes a query parameter). */
export const MAX_VALUES_PER_FILTER = 100;
/**
 * `count=true` counts matching rows exactly up to this cap and reports
 * `countCapped: true` beyond it, so a count never scans more than cap+1 rows.
 */
export const COUNT_CAP = 100_000;
/** Bound on one text filter value (ids and user names). */
export const MAX_TEXT_CHARS = 256;

export const FILTER_PARAMS = [
  'from',
  'to',
  'site',
  'resource',
  'client',
  'user',
  'protocol',
  'source',
  'dest',
  'destPort',
  'status',
  'closeReason',
  'minBytes',
  'sessionId',
] as const;
export const PAGE_PARAMS = ['limit', 'cursor', 'count'] as const;

const SINGLE_VALUED = new Set<string>(['from', 'to', 'minBytes', 'limit', 'cursor', 'count']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const DIGITS = /^\d{1,20}$/;
const UINT64_MAX = 18446744073709551615n;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Check the parameter names and multiplicity; throws UNKNOWN_PARAMETER / INVALID_PARAMETER. */
function checkNames(search: URLSearchParams, allowed: ReadonlySet<string>): void {
  const seen = new Map<string, number>();
  for (const name of search.keys()) {
    if (!allowed.has(name)) {
      throw new ApiError(
        'UNKNOWN_PARAMETER',
        `unknown query parameter "${name}"; known: ${[...allowed].join(', ')}`,
        name,
      );
    }
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    if (count > 1 && SINGLE_VALUED.has(name)) {
      throw new ApiError(
        FILTER_PARAMS.includes(name as (typeof FILTER_PARAMS)[number])
          ? 'INVALID_FILTER'
          : 'INVALID_PARAMETER',
        `${name}: given more than once; it takes one value`,
        name,
      );
    }
    if (count > MAX_VALUES_PER_FILTER) {
      throw invalidFilter(name, `more than ${MAX_VALUES_PER_FILTER} values`);
    }
  }
}

function each<T>(search: URLSearchParams, name: string, parse: (value: string) => T | string): T[] {
  return search.getAll(name).map((value) => {
    const parsed = parse(value);
    if (typeof parsed === 'string') throw invalidFilter(name, parsed);
    return parsed;
  });
}

/** Result for `each`: a string is an error sentence, so wrap string results. */
interface Text {
  text: string;
}

function text(value: string): Text | string {
  if (value === '') return 'empty value';
  if (value.length > MAX_TEXT_CHARS) return `longer than ${MAX_TEXT_CHARS} characters`;
  if (CONTROL.test(value)) return 'contains control characters';
  return { text: value };
}

function token(value: string): Text | string {
  return isValidToken(value)
    ? { text: value }
    : `"${value.slice(0, 80)}" is not 1-64 letters, digits, "_" or "-"`;
}

function oneOf<T extends string>(names: readonly T[]) {
  return (value: string): { value: T } | string =>
    (names as readonly string[]).includes(value)
      ? { value: value as T }
      : `"${value.slice(0, 80)}" is not one of ${names.join(', ')}`;
}

function port(value: string): { port: number } | string {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    return `"${value.slice(0, 80)}" is not a port (0-65535)`;
  }
  return { port: Number(value) };
}

function time(value: string): { ms: number } | string {
  const ms = parseTime(value);
  return typeof ms === 'string' ? ms : { ms };
}

/**
 * Parse and validate the filters of `/network-logs` and `/network-logs/export`.
 * `nowMs` anchors the default window. Throws `ApiError` naming the parameter.
 */
export function parseFilters(search: URLSearchParams, nowMs: number): NetworkLogFilters {
  const [from] = each(search, 'from', time);
  const [to] = each(search, 'to', time);
  const fromMs = from?.ms ?? nowMs - DEFAULT_WINDOW_MS;
  if (to !== undefined && fromMs >= to.ms) {
    throw invalidFilter(from ? 'from' : 'to', 'from must be before to');
  }
  const [minBytes] = search.getAll('minBytes');
  if (minBytes !== undefined && (!DIGITS.test(minBytes) || BigInt(minBytes) > UINT64_MAX)) {
    throw invalidFilter('minBytes', `"${minBytes.slice(0, 80)}" is not a non-negative integer`);
  }
  const filters: NetworkLogFilters = {
    fromMs,
    sites: each(search, 'site', token).map((v) => v.text),
    resources: each(search, 'resource', text).map((v) => v.text),
    clients: each(search, 'client', text).map((v) => v.text),
    users: each(search, 'user', text).map((v) => v.text),
    protocols: each(search, 'protocol', oneOf(PROTOCOL_NAMES)).map((v) => v.value),
    sources: each(search, 'source', parseAddress),
    dests: each(search, 'dest', parseAddress),
    destPorts: each(search, 'destPort', port).map((v) => v.port),
    statuses: each(search, 'status', oneOf(['ongoing', 'completed'] as const)).map((v) => v.value),
    closeReasons: each(search, 'closeReason', oneOf(CLOSE_REASON_NAMES)).map((v) => v.value),
    sessionIds: each(search, 'sessionId', (v) =>
      isUuid(v) ? { id: v.toLowerCase() } : `"${v.slice(0, 80)}" is not a UUID`,
    ).map((v) => v.id),
  };
  if (to !== undefined) filters.toMs = to.ms;
  if (minBytes !== undefined) filters.minBytes = BigInt(minBytes).toString();
  return filters;
}

function parsePage(search: URLSearchParams): PageOptions {
  const limitText = search.get('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== null) {
    if (!/^\d{1,7}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) {
      throw new ApiError(
        'INVALID_PARAMETER',
        `limit: "${limitText.slice(0, 80)}" is not an integer from 1 to ${MAX_LIMIT}`,
        'limit',
      );
    }
    limit = Number(limitText);
  }
  const countText = search.get('count');
  if (countText !== null && countText !== 'true' && countText !== 'false') {
    throw new ApiError('INVALID_PARAMETER', 'count: must be true or false', 'count');
  }
  const page: PageOptions = { limit, count: countText === 'true' };
  const cursorText = search.get('cursor');
  if (cursorText !== null) {
    const cursor = decodeCursor(cursorText);
    if (!cursor) {
      throw new ApiError(
        'INVALID_PARAMETER',
        'cursor: not a cursor this API returned (pass nextCursor back unchanged)',
        'cursor',
      );
    }
    page.cursor = cursor;
  }
  return page;
}

const LIST_PARAMS = new Set<string>([...FILTER_PARAMS, ...PAGE_PARAMS]);
const EXPORT_PARAMS = new Set<string>(FILTER_PARAMS);

/** `GET /network-logs`: filters plus paging. */
export function parseListQuery(
  search: URLSearchParams,
  nowMs: number,
): { filters: NetworkLogFilters; page: PageOptions } {
  checkNames(search, LIST_PARAMS);
  return { filters: parseFilters(search, nowMs), page: parsePage(search) };
}

/** `GET /network-logs/export`: filters only (an export has no limit and no cursor). */
export function parseExportQuery(search: URLSearchParams, nowMs: number): NetworkLogFilters {
  checkNames(search, EXPORT_PARAMS);
  return parseFilters(search, nowMs);
}

/** The live tail's filters: those of the list route without the time window. */
export type LiveFilters = Omit<NetworkLogFilters, 'fromMs' | 'toMs'>;

/** Parameters of the live tail: `from`/`to` make no sense for rows still to come. */
export const LIVE_PARAMS: readonly string[] = FILTER_PARAMS.filter(
  (p) => p !== 'from' && p !== 'to',
);
const LIVE_PARAM_SET = new Set<string>(LIVE_PARAMS);

/**
 * `GET …/network-logs/live`: the list filters minus `from`/`to`, which are refused
 * (UNKNOWN_PARAMETER) rather than ignored, so a client never believes it set a window.
 */
export function parseLiveQuery(search: URLSearchParams): LiveFilters {
  for (const name of ['from', 'to']) {
    if (search.has(name)) {
      throw new ApiError(
        'UNKNOWN_PARAMETER',
        `${name}: the live tail takes no time window (it sends sessions as they are stored); use the list route for the past`,
        name,
      );
    }
  }
  checkNames(search, LIVE_PARAM_SET);
  const { fromMs: _from, toMs: _to, ...filters } = parseFilters(search, 0);
  return filters;
}
