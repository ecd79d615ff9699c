import {
  ACTOR_TYPES,
  ADMIN_QUERY_MAX_LIMIT,
  AdminLogError,
  OUTCOMES,
  adminActionsCsv,
  decodeAdminCursor,
  isAdminAction,
  queryAdminActions,
} from '../../admin/index.js';
import type { AdminActionPage, AdminActionQuery } from '../../admin/index.js';
import { ALL_ORGS } from '../../auth/index.js';
import { ApiError, invalidFilter } from '../errors.js';
import { parseTime } from '../filters/time.js';
import { sendJson, writeChunk } from '../http.js';
import type { RequestContext, Route } from '../router.js';
import type { RouteDeps } from '../types.js';
import { validOrg } from './network_logs.js';

/**
 * `GET /api/v1/orgs/{org}/admin-actions` (JSON pages) and `…/admin-actions/export`
 * (CSV): the admin action log of an org, newest first. `{org}` = `*` reads every
 * org, including actions that concern no single org (SQL statements, keys for all
 * orgs); only keys scoped to all orgs may ask for it.
 */

export const ADMIN_ACTIONS_PATH = '/api/v1/orgs/{org}/admin-actions';

const FILTERS = ['from', 'to', 'action', 'actor', 'actorType', 'outcome'] as const;
const PAGE = ['limit', 'cursor'] as const;
const SINGLE = new Set(['from', 'to', 'limit', 'cursor']);
const MAX_VALUES = 100;
const MAX_ACTOR_CHARS = 256;
const DEFAULT_LIMIT = 100;
/** Rows one CSV export writes at most; the admin log is small, this is a safety bound. */
const EXPORT_MAX_ROWS = 1_000_000;

type Filters = Omit<AdminActionQuery, 'limit' | 'cursor'>;

function orgOf(ctx: RequestContext): string | undefined {
  const org = ctx.params.org;
  return org === ALL_ORGS ? undefined : validOrg(org);
}

function parseFilters(search: URLSearchParams, allowed: readonly string[], org?: string): Filters {
  const seen = new Map<string, number>();
  for (const name of search.keys()) {
    if (!allowed.includes(name)) {
      throw new ApiError(
        'UNKNOWN_PARAMETER',
        `unknown query parameter "${name.slice(0, 64)}"; known: ${allowed.join(', ')}`,
        name,
      );
    }
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    if (count > 1 && SINGLE.has(name)) {
      throw new ApiError(
        name === 'from' || name === 'to' ? 'INVALID_FILTER' : 'INVALID_PARAMETER',
        `${name}: given more than once; it takes one value`,
        name,
      );
    }
    if (count > MAX_VALUES) throw invalidFilter(name, `more than ${MAX_VALUES} values`);
  }
  const filters: Filters = {};
  if (org !== undefined) filters.org = org;
  for (const name of ['from', 'to'] as const) {
    const text = search.get(name);
    if (text === null) continue;
    const ms = parseTime(text);
    if (typeof ms === 'string') throw invalidFilter(name, ms);
    filters[name] = new Date(ms);
  }
  if (filters.from && filters.to && filters.from >= filters.to) {
    throw invalidFilter('from', 'from must be before to');
  }
  const list = (name: string, check: (v: string) => string | undefined): string[] => {
    const values = search.getAll(name);
    for (const value of values) {
      const why = check(value);
      if (why !== undefined) throw invalidFilter(name, why);
    }
    return values;
  };
  const oneOf = (names: readonly string[]) => (v: string) =>
    names.includes(v) ? undefined : `"${v.slice(0, 80)}" is not one of ${names.join(', ')}`;
  filters.action = list('action', (v) =>
    isAdminAction(v) ? undefined : `"${v.slice(0, 80)}" is not an admin action`,
  );
  filters.actor = list('actor', (v) =>
    v.length > 0 && v.length <= MAX_ACTOR_CHARS
      ? undefined
      : `must be 1-${MAX_ACTOR_CHARS} characters`,
  );
  filters.actorType = list('actorType', oneOf(ACTOR_TYPES));
  filters.outcome = list('outcome', oneOf(OUTCOMES));
  return filters;
}

function parsePage(search: URLSearchParams): { limit: number; cursor?: string } {
  const limitText = search.get('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== null) {
    limit = /^\d{1,7}$/.test(limitText) ? Number(limitText) : 0;
    if (limit < 1 || limit > ADMIN_QUERY_MAX_LIMIT) {
      throw new ApiError(
        'INVALID_PARAMETER',
        `limit: "${limitText.slice(0, 80)}" is not an integer from 1 to ${ADMIN_QUERY_MAX_LIMIT}`,
        'limit',
      );
    }
  }
  const cursor = search.get('cursor');
  if (cursor === null) return { limit };
  if (!decodeAdminCursor(cursor)) {
    throw new ApiError(
      'INVALID_PARAMETER',
      'cursor: not a cursor this API returned (pass nextCursor back unchanged)',
      'cursor',
    );
  }
  return { limit, cursor };
}

/** Reads through the store; ADMIN_LOG_INVALID cannot happen after our validation but maps to 400. */
function reader(deps: RouteDeps, signal: AbortSignal) {
  return async (q: AdminActionQuery): Promise<AdminActionPage> => {
    if (signal.aborted) return { items: [] };
    try {
      return await queryAdminActions(deps.store, deps.store.database, q);
    } catch (err) {
      if (err instanceof AdminLogError && err.code === 'ADMIN_LOG_INVALID') {
        throw new ApiError('INVALID_FILTER', err.message);
      }
      throw err;
    }
  };
}

async function list(deps: RouteDeps, ctx: RequestContext): Promise<void> {
  const org = orgOf(ctx);
  const filters = parseFilters(ctx.url.searchParams, [...FILTERS, ...PAGE], org);
  const page = await reader(deps, ctx.signal)({ ...filters, ...parsePage(ctx.url.searchParams) });
  sendJson(ctx.res, 200, { items: page.items, nextCursor: page.nextCursor ?? null });
}

async function exportCsv(deps: RouteDeps, ctx: RequestContext): Promise<void> {
  const org = orgOf(ctx);
  const filters = parseFilters(ctx.url.searchParams, FILTERS, org);
  const lines = adminActionsCsv(reader(deps, ctx.signal), filters, {
    maxRows: EXPORT_MAX_ROWS,
    signal: ctx.signal,
    onTruncated: () =>
      ctx.log.warn({ org, maxRows: EXPORT_MAX_ROWS }, 'admin actions export cut at its bound'),
  });
  // The header line comes first and the first page right after: pull both before
  // the status goes out, so a failing query is still a proper error.
  const header = await lines.next();
  const first = await lines.next();
  ctx.res.writeHead(200, {
    'content-type': 'text/csv; charset=utf-8; header=present',
    'content-disposition': `attachment; filename="connlog-admin-actions-${org ?? 'all'}.csv"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  try {
    if (!header.done) await writeChunk(ctx.res, header.value, ctx.signal);
    if (!first.done) {
      await writeChunk(ctx.res, first.value, ctx.signal);
      for await (const chunk of lines) await writeChunk(ctx.res, chunk, ctx.signal);
    }
    if (!ctx.signal.aborted) ctx.res.end();
  } finally {
    await lines.return(undefined);
  }
}

export function adminActionRoutes(deps: RouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: ADMIN_ACTIONS_PATH,
      name: 'admin_actions_list',
      access: 'read',
      handle: (ctx) => list(deps, ctx),
    },
    {
      method: 'GET',
      path: `${ADMIN_ACTIONS_PATH}/export`,
      name: 'admin_actions_export',
      access: 'export',
      handle: (ctx) => exportCsv(deps, ctx),
    },
  ];
}
