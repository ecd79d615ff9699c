import type { Cursor } from '../cursor.js';
import type { AddressMatch } from './address.js';
import type { NetworkLogFilters } from './parse.js';
import { QueryParams } from './params.js';

/**
 * Filters → a WHERE clause over `connlog.network_logs` plus its parameters. Values
 * within one filter are OR-ed, filters are AND-ed. Column names and types below are
 * constants; client values only ever travel as parameters.
 */
export interface WhereClause {
  sql: string;
  params: Record<string, unknown>;
}

function time(params: QueryParams, ms: number): string {
  return `fromUnixTimestamp64Milli(${params.add('Int64', ms)}, 'UTC')`;
}

function addressCondition(
  params: QueryParams,
  side: 'source' | 'dest',
  match: AddressMatch,
): string {
  const ip = `${side}_ip`;
  if (match.kind === 'cidr') {
    // IPv6CIDRToRange gives (first, last) of the network; IPv4 networks arrive
    // already mapped into ::ffff:0:0/96, where the stored IPv4 addresses live.
    const range = `IPv6CIDRToRange(toIPv6(${params.add('String', match.network)}), ${params.add('UInt8', match.prefix)})`;
    return `${ip} BETWEEN tupleElement(${range}, 1) AND tupleElement(${range}, 2)`;
  }
  const parts = [`${ip} = toIPv6(${params.add('String', match.ip)})`];
  if (match.port !== undefined) parts.push(`${side}_port = ${params.add('UInt16', match.port)}`);
  return parts.join(' AND ');
}

function anyOf(conditions: string[]): string {
  return conditions.length === 1 ? (conditions[0] ?? '') : `(${conditions.join(' OR ')})`;
}

/** The WHERE clause (without the keyword) for `org` and `filters`, plus the keyset `after`. */
export function buildWhere(
  org: string,
  filters: NetworkLogFilters,
  after?: Cursor,
  params: QueryParams = new QueryParams(),
): WhereClause {
  const and: string[] = [
    `org_id = ${params.add('String', org)}`,
    `started_at >= ${time(params, filters.fromMs)}`,
  ];
  if (filters.toMs !== undefined) and.push(`started_at < ${time(params, filters.toMs)}`);
  const inList = (column: string, values: readonly string[]): void => {
    if (values.length > 0) and.push(`${column} IN ${params.add('Array(String)', values)}`);
  };
  inList('site_id', filters.sites);
  inList('resource_id', filters.resources);
  inList('client_id', filters.clients);
  inList('user_id', filters.users);
  inList('protocol', filters.protocols);
  inList('status', filters.statuses);
  inList('close_reason', filters.closeReasons);
  if (filters.sessionIds.length > 0) {
    and.push(`session_id IN ${params.add('Array(UUID)', filters.sessionIds)}`);
  }
  if (filters.destPorts.length > 0) {
    and.push(`dest_port IN ${params.add('Array(UInt16)', filters.destPorts)}`);
  }
  if (filters.sources.length > 0) {
    and.push(anyOf(filters.sources.map((m) => addressCondition(params, 'source', m))));
  }
  if (filters.dests.length > 0) {
    and.push(anyOf(filters.dests.map((m) => addressCondition(params, 'dest', m))));
  }
  if (filters.minBytes !== undefined) {
    and.push(`bytes_tx + bytes_rx >= ${params.add('UInt64', filters.minBytes)}`);
  }
  if (after) {
    // Strictly after the cursor in (started_at DESC, session_id DESC). The plain
    // `started_at <=` bound lets the primary key prune; the OR does the tie-break.
    const at = time(params, after.startedAtMs);
    const id = params.add('UUID', after.sessionId);
    and.push(`started_at <= ${at}`);
    and.push(`(started_at < ${at} OR session_id < ${id})`);
  }
  return { sql: and.join('\n  AND '), params: params.values };
}
