import type { IncomingMessage } from 'node:http';
import { ALL_ORGS, AuthError, authenticate, authorize } from '../auth/index.js';
import type { ApiKeys, AuthAction, Principal as KeyPrincipal } from '../auth/index.js';

/**
 * Who a request is and whether it may use a route. With a key store (option `keys`)
 * every route that is not open needs an API key (`Authorization: Bearer`, basic auth,
 * or `X-ClickHouse-Key`); the role and org scope of the key decide the rest
 * (auth/authorize.ts). Without a key store the API is open: every request is the
 * anonymous principal (the server logs a warning at startup).
 */

export type Principal = { kind: 'anonymous' } | KeyPrincipal;

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/**
 * What a route needs: `open` (no credentials), `any` (any valid key), or an action of
 * auth/authorize.ts checked against the route's org.
 */
export type Access = 'open' | 'any' | AuthAction;

/** Which org a route's access is checked against. */
export type Scope =
  /** The `{org}` path segment (`*` there means every org). */
  | 'path'
  /** Every org: the route reads across orgs, so only keys scoped `*` qualify. */
  | 'all';

export type AccessResult =
  | { ok: true; principal: Principal }
  /** No credentials, or not a valid key: 401. */
  | { ok: false; status: 401; missing: boolean; reason: string }
  /** A valid key whose role or org does not allow this: 403. */
  | { ok: false; status: 403; principal: KeyPrincipal; reason: string };

export type AccessCheck = (
  req: IncomingMessage,
  route: { access: Access; scope?: Scope },
  params: Record<string, string>,
) => AccessResult;

/** Everything allowed, as the anonymous principal: the API without a key store. */
export const openAccess: AccessCheck = () => ({ ok: true, principal: ANONYMOUS });

/** Access decided by API keys. `keys.check` is synchronous (a local copy of the KV bucket). */
export function keyAccess(keys: Pick<ApiKeys, 'check'>): AccessCheck {
  return (req, route, params) => {
    if (route.access === 'open') return { ok: true, principal: ANONYMOUS };
    let principal: KeyPrincipal;
    try {
      principal = authenticate(req, keys);
    } catch (err) {
      if (err instanceof AuthError && err.status === 401) {
        return {
          ok: false,
          status: 401,
          missing: err.code === 'AUTH_REQUIRED',
          reason: err.message,
        };
      }
      throw err;
    }
    if (route.access === 'any') return { ok: true, principal };
    const org = route.scope === 'all' ? ALL_ORGS : (params.org ?? '');
    if (authorize(principal, { org, action: route.access }) === 'ok')
      return { ok: true, principal };
    return { ok: false, status: 403, principal, reason: denial(principal, org, route.access) };
  };
}

function denial(principal: KeyPrincipal, org: string, action: AuthAction): string {
  const inScope = principal.org === ALL_ORGS || principal.org === org;
  if (!inScope) {
    return org === ALL_ORGS
      ? `API key ${principal.keyId} is limited to org ${principal.org}; this needs a key for all orgs (*)`
      : `API key ${principal.keyId} is limited to org ${principal.org}, not ${org.slice(0, 64)}`;
  }
  return `API key ${principal.keyId} has role ${principal.role}, which may not ${action === 'admin' ? 'administer' : action}`;
}

/** The admin log's view of a principal. */
export function actorOf(principal: Principal): {
  actorType: 'user' | 'api_key';
  actor: string;
  actorId: string;
} {
  return principal.kind === 'api_key'
    ? { actorType: 'api_key', actor: principal.name, actorId: principal.keyId }
    : { actorType: 'user', actor: 'anonymous', actorId: '' };
}

/** `api_key:<id>` or `anonymous`: who changed a setting, as settings record it. */
export function actorLabel(principal: Principal): string {
  return principal.kind === 'api_key' ? `api_key:${principal.keyId}` : 'anonymous';
}
