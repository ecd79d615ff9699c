/**
 * Credentials on an HTTP request. Three carriers, all holding the full key
 * (`clk_<id>_<secret>`):
 *
 * - `Authorization: Bearer <key>` — the REST API's way;
 * - `Authorization: Basic base64(<user>:<key>)` — what ClickHouse clients and BI tools
 *   send to the SQL endpoint; the user part is ignored (put the key id, or anything).
 *   `base64(<key>:)` (the key as the user, empty password) works too;
 * - `X-ClickHouse-Key: <key>` (with any `X-ClickHouse-User`) — ClickHouse's own
 *   header pair, also for the SQL endpoint.
 *
 * Keys in URLs (`?password=`) are not accepted: URLs end up in proxy and access logs.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Principal } from './authorize.js';
import { AuthError } from './errors.js';
import type { ApiKeys } from './keys.js';

/** The `WWW-Authenticate` challenge to send with a 401. */
export const WWW_AUTHENTICATE = 'Bearer realm="connlog", Basic realm="connlog"';

/** The key a request carries, or undefined when it carries none. Throws AUTH_INVALID on a malformed header. */
export function credentialOf(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined && authorization !== '') {
    const space = authorization.indexOf(' ');
    const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : authorization.slice(space + 1).trim();
    if (scheme === 'bearer') {
      if (value === '') throw new AuthError('AUTH_INVALID', 'empty Bearer token');
      return value;
    }
    if (scheme === 'basic') return fromBasic(value);
    throw new AuthError(
      'AUTH_INVALID',
      'unsupported Authorization scheme: use "Bearer <key>" or HTTP basic auth',
    );
  }
  const key = single(headers['x-clickhouse-key']);
  if (key !== undefined && key !== '') return key;
  return undefined;
}

function fromBasic(value: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    throw new AuthError('AUTH_INVALID', 'malformed Basic credentials (not base64)');
  }
  const text = Buffer.from(value, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw new AuthError('AUTH_INVALID', 'malformed Basic credentials (no ":")');
  const user = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (password !== '') return password;
  if (user !== '') return user;
  throw new AuthError('AUTH_INVALID', 'empty Basic credentials');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The principal of a request, or a typed 401: AUTH_REQUIRED when it carries no
 * credentials, AUTH_INVALID when they are not a valid, unrevoked key. The message never
 * contains the presented secret.
 */
export function authenticate(
  req: { headers: IncomingHttpHeaders },
  keys: Pick<ApiKeys, 'check'>,
): Principal {
  const key = credentialOf(req.headers);
  const result = keys.check(key);
  if (result.ok) return result.principal;
  if (result.reason === 'missing') {
    throw new AuthError(
      'AUTH_REQUIRED',
      'authentication required: send "Authorization: Bearer <API key>"',
    );
  }
  throw new AuthError(
    'AUTH_INVALID',
    result.reason === 'malformed'
      ? 'not an API key (expected clk_<id>_<secret>)'
      : 'invalid or revoked API key',
  );
}
