import { isValidToken } from '@connlog/proto';
import { SELECT_LIST, rowToItem } from '../columns.js';
import type { Item } from '../columns.js';
import { encodeCursor } from '../cursor.js';
import { ApiError } from '../errors.js';
import { COUNT_CAP, isUuid, parseListQuery } from '../filters/parse.js';
import { QueryParams } from '../filters/params.js';
import { buildWhere } from '../filters/sql.js';
import { sendJson } from '../http.js';
import type { RequestContext, Route } from '../router.js';
import type { RouteDeps } from '../types.js';

export const NETWORK_LOGS_PATH = '/api/v1/orgs/{org}/network-logs';

/** An org id, validated with the same rule as NATS subject tokens. */
export function validOrg(org: string | undefined): string {
  if (org === undefined || !isValidToken(org)) throw new ApiError('INVALID_ORG', undefined, 'org');
  return org;
}

/** The `{org}` path segment, validated. */
export function orgParam(ctx: RequestContext): string {
  return validOrg(ctx.params.org);
}

async function list(deps: RouteDeps, ctx: RequestContext): Promise<void> {
  const org = orgParam(ctx);
  const { filters, page } = parseListQuery(ctx.url.searchParams, deps.now());
  const params = new QueryParams();
  const where = buildWhere(org, filters, page.cursor, params);
  // One row more than asked tells whether another page exists without a second query.
  const limit = params.add('UInt32', page.limit + 1);
  const sql = `SELECT ${SELECT_LIST}
FROM ${deps.store.database}.network_logs
WHERE ${where.sql}
ORDER BY started_at DESC, session_id DESC
LIMIT ${limit}`;
  const options = { readonly: true, signal: ctx.signal };
  const rows = await deps.store.query(sql, params.values, options);
  const items: Item[] = rows.slice(0, page.limit).map(rowToItem);
  const last = items.at(-1);
  const nextCursor =
    rows.length > page.limit && last
      ? encodeCursor({
          startedAtMs: Date.parse(String(last.started_at)),
          sessionId: String(last.session_id),
        })
      : null;
  const body: { items: Item[]; nextCursor: string | null; count?: number; countCapped?: boolean } =
    { items, nextCursor };
  if (page.count) {
    // The count ignores the cursor: it is the size of the whole filtered set.
    const countParams = new QueryParams();
    const countWhere = buildWhere(org, filters, undefined, countParams);
    const cap = countParams.add('UInt32', COUNT_CAP + 1);
    const [result] = await deps.store.query<{ n: number | string }>(
      `SELECT count() AS n FROM (SELECT 1 FROM ${deps.store.database}.network_logs WHERE ${countWhere.sql} LIMIT ${cap})`,
      countParams.values,
      options,
    );
    const n = Number(result?.n ?? 0);
    body.count = Math.min(n, COUNT_CAP);
    body.countCapped = n > COUNT_CAP;
  }
  sendJson(ctx.res, 200, body);
}

async function getOne(deps: RouteDeps, ctx: RequestContext): Promise<void> {
  const org = orgParam(ctx);
  const sessionId = ctx.params.sessionId ?? '';
  if (!isUuid(sessionId)) throw new ApiError('INVALID_SESSION_ID', undefined, 'sessionId');
  const unknown = [...ctx.url.searchParams.keys()][0];
  if (unknown !== undefined) {
    throw new ApiError('UNKNOWN_PARAMETER', `unknown query parameter "${unknown}"`, unknown);
  }
  const params = new QueryParams();
  const sql = `SELECT ${SELECT_LIST}
FROM ${deps.store.database}.network_logs
WHERE org_id = ${params.add('String', org)} AND session_id = ${params.add('UUID', sessionId.toLowerCase())}
LIMIT 1`;
  const [row] = await deps.store.query(sql, params.values, { readonly: true, signal: ctx.signal });
  if (!row) throw new ApiError('SESSION_NOT_FOUND', undefined, 'sessionId');
  sendJson(ctx.res, 200, rowToItem(row));
}

/** The live tail's route name: the server hands WebSocket upgrades for it to the live tail. */
export const LIVE_ROUTE = 'network_logs_live';

/**
 * `GET …/network-logs`, `GET …/network-logs/{sessionId}`, and `GET …/network-logs/live`
 * as a plain request (the WebSocket upgrade is served by live/hub.ts; a request
 * without one gets 426). Export lives in export.ts.
 */
export function networkLogRoutes(deps: RouteDeps): { list: Route; get: Route; live: Route } {
  return {
    list: {
      method: 'GET',
      path: NETWORK_LOGS_PATH,
      name: 'network_logs_list',
      access: 'read',
      handle: (ctx) => list(deps, ctx),
    },
    get: {
      method: 'GET',
      path: `${NETWORK_LOGS_PATH}/{sessionId}`,
      name: 'network_logs_get',
      access: 'read',
      handle: (ctx) => getOne(deps, ctx),
    },
    live: {
      method: 'GET',
      path: `${NETWORK_LOGS_PATH}/live`,
      name: LIVE_ROUTE,
      access: 'read',
      handle: (ctx) => {
        orgParam(ctx);
        ctx.res.setHeader('upgrade', 'websocket');
        return Promise.reject(new ApiError('UPGRADE_REQUIRED'));
      },
    },
  };
}
