import { describe, expect, it } from 'vitest';
import {
  AUTH_ACTIONS,
  AuthError,
  ROLES,
  authenticate,
  authorize,
  credentialOf,
  formatKey,
  hashSecret,
  parseKey,
  secretMatches,
  type AuthAction,
  type CheckResult,
  type Principal,
  type Role,
} from '../../src/auth/index.js';

const ID = '0123456789abcdef';
const SECRET = 'A'.repeat(21) + '_-' + 'z'.repeat(20);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof AuthError ? `${err.code}/${err.status}` : `other: ${String(err)}`;
  }
  return 'no error';
}

describe('key format', () => {
  it('formats clk_<16 hex>_<43 base64url> and parses it back', () => {
    const key = formatKey(ID, SECRET);
    expect(key).toBe(`clk_${ID}_${SECRET}`);
    expect(parseKey(key)).toEqual({ id: ID, secret: SECRET });
  });

  it.each([
    '',
    `clk_${ID}`,
    `clk_${ID}_`,
    `clk_${ID}_${SECRET}x`,
    `clk_${ID}_${SECRET.slice(1)}`,
    `clk_${ID.toUpperCase()}_${SECRET}`,
    `clx_${ID}_${SECRET}`,
    `clk_${ID}_${SECRET.slice(1)}=`,
    ` clk_${ID}_${SECRET}`,
  ])('refuses %j', (text) => {
    expect(parseKey(text)).toBeUndefined();
  });

  it('stores sha256 of the secret only', () => {
    const stored = hashSecret(SECRET);
    expect(stored).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stored).not.toContain(SECRET);
    expect(hashSecret(SECRET)).toBe(stored);
  });

  it('compares in constant time without throwing on any stored value', () => {
    const stored = hashSecret(SECRET);
    expect(secretMatches(SECRET, stored)).toBe(true);
    expect(secretMatches(`${SECRET.slice(0, -1)}B`, stored)).toBe(false);
    // timingSafeEqual throws on a length mismatch: these prove the lengths are equalized.
    for (const bad of [
      '',
      'sha256:',
      'sha256:abc',
      `md5:${'0'.repeat(64)}`,
      `sha256:${'0'.repeat(64)}`,
    ]) {
      expect(secretMatches(SECRET, bad)).toBe(false);
    }
    // An all-zero digest must not match a secret whose "expected" fell back to zeros.
    expect(secretMatches('', 'garbage')).toBe(false);
  });
});

describe('authorize', () => {
  const principal = (role: Role, org: string): Principal => ({
    kind: 'api_key',
    keyId: ID,
    name: 'k',
    role,
    org,
  });
  // role × key scope × requested org × action → expected
  const cases: [Role, string, string, AuthAction, 'ok' | 'forbidden'][] = [];
  for (const role of ROLES) {
    for (const scope of ['*', 'acme']) {
      for (const org of ['acme', 'globex', '*']) {
        for (const action of AUTH_ACTIONS) {
          const inScope = scope === '*' || scope === org;
          const allowed = role === 'admin' || action !== 'admin';
          cases.push([role, scope, org, action, inScope && allowed ? 'ok' : 'forbidden']);
        }
      }
    }
  }

  it('covers the whole matrix', () => {
    expect(cases).toHaveLength(2 * 2 * 3 * 3);
  });

  it.each(cases)('%s key scoped to %s on org %s, %s → %s', (role, scope, org, action, expected) => {
    expect(authorize(principal(role, scope), { org, action })).toBe(expected);
  });

  it('spells out the key rules', () => {
    expect(authorize(principal('auditor', '*'), { org: 'acme', action: 'export' })).toBe('ok');
    expect(authorize(principal('auditor', '*'), { org: 'acme', action: 'admin' })).toBe(
      'forbidden',
    );
    expect(authorize(principal('admin', 'acme'), { org: 'globex', action: 'read' })).toBe(
      'forbidden',
    );
    expect(authorize(principal('admin', 'acme'), { org: '*', action: 'admin' })).toBe('forbidden');
  });
});

describe('credentials on a request', () => {
  const key = formatKey(ID, SECRET);
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

  it.each<[string, Record<string, string>]>([
    ['bearer', { authorization: `Bearer ${key}` }],
    ['bearer, any case', { authorization: `bearer   ${key}` }],
    ['basic user:key', { authorization: basic(`${ID}:${key}`) }],
    ['basic anything:key', { authorization: basic(`default:${key}`) }],
    ['basic key:', { authorization: basic(`${key}:`) }],
    ['X-ClickHouse-Key', { 'x-clickhouse-user': ID, 'x-clickhouse-key': key }],
  ])('reads %s', (_what, headers) => {
    expect(credentialOf(headers)).toBe(key);
  });

  it('prefers Authorization over X-ClickHouse-Key', () => {
    expect(credentialOf({ authorization: `Bearer ${key}`, 'x-clickhouse-key': 'other' })).toBe(key);
  });

  it('returns undefined without credentials', () => {
    expect(credentialOf({})).toBeUndefined();
    expect(credentialOf({ 'x-clickhouse-user': 'default' })).toBeUndefined();
  });

  it.each([
    'Bearer',
    'Bearer ',
    'Digest abc',
    'Basic !!!',
    `Basic ${Buffer.from('nocolon').toString('base64')}`,
    `Basic ${Buffer.from(':').toString('base64')}`,
  ])('refuses a malformed header %j with 401', (authorization) => {
    expect(codeOf(() => credentialOf({ authorization }))).toBe('AUTH_INVALID/401');
  });

  // A stand-in for the key store's lookup: the store itself is tested on real NATS.
  const keys = {
    check(presented: string | undefined): CheckResult {
      if (presented === undefined) return { ok: false, reason: 'missing' };
      if (!parseKey(presented)) return { ok: false, reason: 'malformed' };
      if (presented !== key) return { ok: false, reason: 'bad_secret' };
      return {
        ok: true,
        principal: { kind: 'api_key', keyId: ID, name: 'k', role: 'auditor', org: '*' },
      };
    },
  };

  it('authenticates to a principal or a typed 401', () => {
    expect(authenticate({ headers: { authorization: `Bearer ${key}` } }, keys).keyId).toBe(ID);
    expect(codeOf(() => authenticate({ headers: {} }, keys))).toBe('AUTH_REQUIRED/401');
    expect(codeOf(() => authenticate({ headers: { authorization: 'Bearer nope' } }, keys))).toBe(
      'AUTH_INVALID/401',
    );
    const wrong = formatKey(ID, 'B'.repeat(43));
    let message = '';
    try {
      authenticate({ headers: { authorization: `Bearer ${wrong}` } }, keys);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('invalid or revoked API key');
    expect(message).not.toContain('B'.repeat(43));
  });
});
