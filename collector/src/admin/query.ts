/**
 * Reading the admin action log: filters, newest first, keyset pagination. Every
 * value is a `{name:Type}` parameter.
 *
 * `admin_actions` has no id column, so the cursor's tie-breaker for rows of the same
 * millisecond is a hash of the row's other columns: two rows equal in every column
 * and millisecond are the same record written twice, and a page boundary between
 * them may show it once.
 */
import type { Store } from '../store/store.js';
import { ACTOR_TYPES, OUTCOMES, isAdminAction, type ActorType, type Outcome } from './actions.js';
import { AdminLogError } from './errors.js';

export interface AdminActionQuery {
  /** Only this org's actions; undefined = every org (global admins). */
  org?: string;
  /** Inclusive lower bound. */
  from?: Date;
  /** Exclusive upper bound. */
  to?: Date;
  /** Any of these actions (empty = all). */
  action?: readonly string[];
  /** Any of these actors, matched against `actor` or `actor_id`. */
  actor?: readonly string[];
  actorType?: readonly string[];
  outcome?: readonly string[];
  /** Rows per page, 1..1000. @default 100 */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface AdminActionEntry {
  /** RFC 3339 with milliseconds, UTC. */
  timestamp: string;
  orgId: string;
  action: string;
  actorType: ActorType;
  actor: string;
  actorId: string;
  outcome: Outcome;
  metadata: Record<string, unknown>;
}

export interface AdminActionPage {
  items: AdminActionEntry[];
  /** Present when more rows follow. */
  nextCursor?: string;
}

export const ADMIN_QUERY_MAX_LIMIT = 1000;

interface Cursor {
  ms: number;
  hash: string;
}

const CURSOR = /^a1:(\d{1,15}):(\d{1,20})$/;

export function encodeAdminCursor(cursor: Cursor): string {
  return Buffer.from(`a1:${cursor.ms}:${cursor.hash}`, 'utf8').toString('base64url');
}

export function decodeAdminCursor(text: string): Cursor | undefined {
  if (text.length > 100 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const m = CURSOR.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!m?.[1] || !m[2]) return undefined;
  return { ms: Number(m[1]), hash: m[2] };
}

const HASH = 'sipHash64(org_id, action, actor_type, actor, actor_id, outcome, metadata)';

/** The statement for one page (limit + 1 rows, to learn whether another page follows). */
export function adminActionsSql(
  database: string,
  q: AdminActionQuery,
): { sql: string; params: Record<string, unknown>; limit: number } {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(database)) {
    throw new RangeError(`clickhouse.database must be a plain identifier, got "${database}"`);
  }
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (q.org !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(q.org)) throw invalid('org', bad(q.org));
    where.push('org_id = {org:String}');
    params.org = q.org;
  }
  if (q.from !== undefined) {
    where.push("timestamp >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')");
    params.from = time(q.from, 'from');
  }
  if (q.to !== undefined) {
    where.push("timestamp < fromUnixTimestamp64Milli({to:Int64}, 'UTC')");
    params.to = time(q.to, 'to');
  }
  const list = (
    name: string,
    values: readonly string[] | undefined,
    check: (v: string) => boolean,
  ): readonly string[] | undefined => {
    if (values === undefined || values.length === 0) return undefined;
    if (values.length > 100) throw invalid(name, `${values.length} values, at most 100`);
    for (const v of values) if (typeof v !== 'string' || !check(v)) throw invalid(name, bad(v));
    return values;
  };
  const actions = list('action', q.action, isAdminAction);
  if (actions) {
    where.push('action IN {actions:Array(String)}');
    params.actions = actions;
  }
  const actors = list('actor', q.actor, (v) => v.length > 0 && v.length <= 256);
  if (actors) {
    where.push('(actor IN {actors:Array(String)} OR actor_id IN {actors:Array(String)})');
    params.actors = actors;
  }
  const types = list('actorType', q.actorType, (v) =>
    (ACTOR_TYPES as readonly string[]).includes(v),
  );
  if (types) {
    where.push('actor_type IN {actorTypes:Array(String)}');
    params.actorTypes = types;
  }
  const outcomes = list('outcome', q.outcome, (v) => (OUTCOMES as readonly string[]).includes(v));
  if (outcomes) {
    where.push('outcome IN {outcomes:Array(String)}');
    params.outcomes = outcomes;
  }
  if (q.cursor !== undefined) {
    const cursor = decodeAdminCursor(q.cursor);
    if (!cursor) throw invalid('cursor', 'not a cursor this endpoint returned');
    where.push(
      `(timestamp, ${HASH}) < (fromUnixTimestamp64Milli({cursorMs:Int64}, 'UTC'), {cursorHash:UInt64})`,
    );
    params.cursorMs = cursor.ms;
    params.cursorHash = cursor.hash;
  }
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > ADMIN_QUERY_MAX_LIMIT) {
    throw invalid('limit', `must be an integer 1..${ADMIN_QUERY_MAX_LIMIT}, got ${limit}`);
  }
  params.limit = limit + 1;
  const sql =
    `SELECT toUnixTimestamp64Milli(timestamp) AS ms, org_id, action, actor_type, actor, ` +
    `actor_id, outcome, metadata, toString(${HASH}) AS hash ` +
    `FROM ${database}.admin_actions` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY timestamp DESC, ${HASH} DESC LIMIT {limit:UInt32}`;
  return { sql, params, limit };
}

interface Row {
  // A JSON number from both engines; a string if a server quotes 64-bit integers.
  ms: number | string;
  org_id: string;
  action: string;
  actor_type: ActorType;
  actor: string;
  actor_id: string;
  outcome: Outcome;
  metadata: string;
  hash: string;
}

export async function queryAdminActions(
  store: Pick<Store, 'query'>,
  database: string,
  q: AdminActionQuery,
): Promise<AdminActionPage> {
  const { sql, params, limit } = adminActionsSql(database, q);
  let rows: Row[];
  try {
    rows = await store.query<Row>(sql, params);
  } catch (err) {
    throw new AdminLogError('ADMIN_LOG_QUERY', 'cannot read the admin action log', { cause: err });
  }
  const page = rows.slice(0, limit);
  const items = page.map((r): AdminActionEntry => ({
    timestamp: new Date(Number(r.ms)).toISOString(),
    orgId: r.org_id,
    action: r.action,
    actorType: r.actor_type,
    actor: r.actor,
    actorId: r.actor_id,
    outcome: r.outcome,
    metadata: parseMetadata(r.metadata),
  }));
  const last = page[page.length - 1];
  return rows.length > limit && last
    ? { items, nextCursor: encodeAdminCursor({ ms: Number(last.ms), hash: last.hash }) }
    : { items };
}

function parseMetadata(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : { value };
  } catch {
    return { raw: text };
  }
}

function time(value: Date, name: string): number {
  const ms = value instanceof Date ? value.getTime() : NaN;
  if (Number.isNaN(ms)) throw invalid(name, bad(String(value)));
  return ms;
}

function invalid(name: string, detail: string): AdminLogError {
  return new AdminLogError('ADMIN_LOG_INVALID', `${name}: ${detail}`);
}

function bad(value: unknown): string {
  return `invalid value ${(JSON.stringify(value) ?? String(value)).slice(0, 80)}`;
}
