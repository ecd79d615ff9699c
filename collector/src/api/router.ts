import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AdminAction } from '../admin/index.js';
import type { Access, Principal, Scope } from './auth.js';

/**
 * A tiny router: routes are (method, path template) pairs such as
 * `GET /api/v1/orgs/{org}/network-logs/{sessionId}`. The same templates are the
 * keys of the OpenAPI document, and a test checks the two agree.
 */

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path parameters by template name, URI-decoded. */
  params: Record<string, string>;
  /** Aborted when the client goes away before the response is finished. */
  signal: AbortSignal;
  log: Logger;
  principal: Principal;
}

export interface Route {
  method: Method;
  /** Path template; `{name}` matches one non-empty segment. */
  path: string;
  /** Metric label: a constant per route, so the label set stays bounded. */
  name: string;
  /** What the caller needs: `open` (health, API description), `any` valid key, or an action. */
  access: Access;
  /** Org the access is checked against. @default 'path' (the `{org}` segment) */
  scope?: Scope;
  /** Admin action recorded (outcome `denied`) when a key is refused this route. */
  audit?: AdminAction;
  /** Errors raised outside the handler (auth, crashes) in ClickHouse's shape, for `/sql`. */
  clickhouseErrors?: boolean;
  handle(ctx: RequestContext): Promise<void>;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allowed: Method[] }
  | { kind: 'not_found' };

function matchPath(template: string, pathname: string): Record<string, string> | undefined {
  const want = template.split('/');
  const got = pathname.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    const part = want[i] ?? '';
    const value = got[i] ?? '';
    if (part.startsWith('{') && part.endsWith('}')) {
      if (value === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(value);
      } catch {
        return undefined;
      }
      params[part.slice(1, -1)] = decoded;
    } else if (part !== value) {
      return undefined;
    }
  }
  return params;
}

/** First route (in table order) whose template matches; literal routes go first in the table. */
export function matchRoute(routes: readonly Route[], method: string, pathname: string): RouteMatch {
  const allowed: Method[] = [];
  for (const route of routes) {
    const params = matchPath(route.path, pathname);
    if (!params) continue;
    if (route.method === method) return { kind: 'found', route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { kind: 'method_not_allowed', allowed } : { kind: 'not_found' };
}
