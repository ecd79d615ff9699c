import { RETENTION_MAX_DAYS, RetentionError } from '../../retention/index.js';
import { actorLabel } from '../auth.js';
import { ApiError } from '../errors.js';
import { BodyTooLargeError, readBody, sendJson } from '../http.js';
import type { RequestContext, Route } from '../router.js';
import type { RetentionApi, RouteDeps } from '../types.js';
import { orgParam } from './network_logs.js';

/**
 * `GET/PUT /api/v1/orgs/{org}/retention`: an org's retention in days (-1 keep
 * forever, 0 do not store, 1..3650), stored in NATS KV for every collector. A PUT
 * re-stamps the org's existing rows (when the enforcer is wired) so the change
 * applies to the past too, and is recorded in the admin log.
 */

export const RETENTION_PATH = '/api/v1/orgs/{org}/retention';

/** A `{ "days": n }` body is a few bytes; anything much larger is not one. */
const MAX_BODY_BYTES = 4096;

function settingsOf(deps: RouteDeps): RetentionApi {
  if (!deps.retention) {
    throw new ApiError(
      'NOT_CONFIGURED',
      'retention settings are not available on this collector (they need NATS KV)',
    );
  }
  return deps.retention;
}

function view(retention: RetentionApi, org: string): Record<string, unknown> {
  const own = retention.settings.setting(org);
  return {
    org,
    days: retention.settings.get(org),
    source: own ? 'org' : 'default',
    defaultDays: retention.settings.defaultDays,
    updatedAt: own?.updatedAt ?? null,
    updatedBy: own?.updatedBy ?? null,
  };
}

async function readDays(ctx: RequestContext): Promise<number> {
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError('INVALID_BODY', 'send the body as application/json: {"days": 30}');
  }
  let text: string;
  try {
    text = await readBody(ctx.req, MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      throw new ApiError('BODY_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`);
    }
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError('INVALID_BODY', 'the body is not JSON; send {"days": 30}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('INVALID_BODY', 'the body must be a JSON object: {"days": 30}');
  }
  for (const name of Object.keys(body)) {
    if (name !== 'days') {
      throw new ApiError('INVALID_BODY', `unknown field "${name.slice(0, 64)}"; only days`, name);
    }
  }
  if (!('days' in body)) throw new ApiError('INVALID_BODY', 'days: missing', 'days');
  const days = body.days;
  if (typeof days !== 'number') {
    throw new ApiError(
      'INVALID_BODY',
      `days must be a JSON number: -1 (keep forever), 0 (do not store) or 1..${RETENTION_MAX_DAYS}, got ${JSON.stringify(days)?.slice(0, 40) ?? 'nothing'}`,
      'days',
    );
  }
  return days;
}

async function put(deps: RouteDeps, ctx: RequestContext): Promise<void> {
  const org = orgParam(ctx);
  const retention = settingsOf(deps);
  const days = await readDays(ctx);
  const previousDays = retention.settings.get(org);
  const audit = { action: 'retention.update' as const, orgId: org, principal: ctx.principal };
  try {
    await retention.settings.set(org, days, actorLabel(ctx.principal));
  } catch (err) {
    if (err instanceof RetentionError && err.code === 'RETENTION_INVALID') {
      throw new ApiError('INVALID_BODY', err.message, 'days');
    }
    await deps.audit.recordNow({
      ...audit,
      outcome: 'error',
      req: ctx.req,
      metadata: { days, previousDays },
    });
    if (err instanceof RetentionError) {
      throw new ApiError('SETTINGS_UNAVAILABLE', undefined, undefined, { cause: err });
    }
    throw err;
  }
  const newDays = retention.settings.get(org);
  // The setting is what every collector uses from now on; re-stamping the rows
  // already stored is the second step. It is a ClickHouse mutation that may take long
  // on a big table: the answer waits for it a bounded time, then says it is pending.
  let existingRows: ExistingRows = { state: 'unchanged' };
  if (retention.ttl) existingRows = await applyBounded(retention.ttl, org, newDays, ctx);
  await deps.audit.recordNow({
    ...audit,
    outcome: 'success',
    req: ctx.req,
    metadata: { days: newDays, previousDays, existingRows: existingRows.state },
  });
  sendJson(ctx.res, 200, { ...view(retention, org), existingRows });
}

/** What happened to the rows stored before the change. */
type ExistingRows =
  /** No enforcer wired here, or days = 0 (existing rows are kept as they are). */
  | { state: 'unchanged' }
  | { state: 'restamped'; storedDays: number; partitionsRewritten: number }
  /** Still running after APPLY_WAIT_MS; the outcome goes to the collector log. */
  | { state: 'pending' }
  | { state: 'failed'; error: string };

/** Longest a PUT waits for existing rows to be re-stamped before answering `pending`. */
const APPLY_WAIT_MS = 10_000;

async function applyBounded(
  ttl: NonNullable<RetentionApi['ttl']>,
  org: string,
  days: number,
  ctx: RequestContext,
): Promise<ExistingRows> {
  const applying = ttl.applyRetention(org, days).then(
    (applied): ExistingRows =>
      applied.storedDays === undefined
        ? { state: 'unchanged' }
        : {
            state: 'restamped',
            storedDays: applied.storedDays,
            partitionsRewritten: applied.partitionsRewritten,
          },
    (err: unknown): ExistingRows => {
      ctx.log.error({ err, org, days }, 'retention stored but not applied to existing rows');
      return { state: 'failed', error: err instanceof Error ? err.message : String(err) };
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<ExistingRows>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending' }), APPLY_WAIT_MS);
  });
  const result = await Promise.race([applying, pending]);
  clearTimeout(timer);
  if (result.state === 'pending') {
    void applying.then((late) =>
      ctx.log.info({ org, days, existingRows: late.state }, 'retention applied to existing rows'),
    );
  }
  return result;
}

export function retentionRoutes(deps: RouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: RETENTION_PATH,
      name: 'retention_get',
      access: 'admin',
      handle: (ctx) => {
        const org = orgParam(ctx);
        sendJson(ctx.res, 200, view(settingsOf(deps), org));
        return Promise.resolve();
      },
    },
    {
      method: 'PUT',
      path: RETENTION_PATH,
      name: 'retention_put',
      access: 'admin',
      audit: 'retention.update',
      handle: (ctx) => put(deps, ctx),
    },
  ];
}
