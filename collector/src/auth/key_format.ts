/**
 * API key text and hashing.
 *
 * A key is `clk_<id>_<secret>`: `id` is 16 hex digits (64 random bits; the KV key and
 * what logs and the admin log show), `secret` is 256 random bits in base64url (43
 * characters). Only SHA-256(secret) is stored. A fast hash is enough because the
 * secret is random, not chosen by a person: guessing 256 bits is out of reach however
 * fast the hash, so a slow password hash (scrypt) would add only CPU cost per request
 * (and a way to burn it) without adding safety. The comparison is constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'clk_';

const KEY = /^clk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const ID = /^[0-9a-f]{16}$/;

export interface ParsedKey {
  id: string;
  secret: string;
}

export function newKeyId(): string {
  return randomBytes(8).toString('hex');
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function formatKey(id: string, secret: string): string {
  return `${KEY_PREFIX}${id}_${secret}`;
}

/** The parts of a key, or undefined when `text` is not shaped like one. */
export function parseKey(text: string): ParsedKey | undefined {
  const m = KEY.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  return { id: m[1], secret: m[2] };
}

export function isKeyId(text: string): boolean {
  return ID.test(text);
}

/** Stored form of a secret: `sha256:<hex>`. */
export function hashSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

/**
 * Does `secret` hash to `stored`? Constant-time in the content of both: the digests
 * compared always have the same length, and a malformed `stored` is compared against
 * itself so the work done does not depend on where the input differs.
 */
export function secretMatches(secret: string, stored: string): boolean {
  const actual = createHash('sha256').update(secret, 'utf8').digest();
  const m = /^sha256:([0-9a-f]{64})$/.exec(stored);
  const expected = m?.[1] ? Buffer.from(m[1], 'hex') : Buffer.alloc(32);
  return timingSafeEqual(actual, expected) && m !== null;
}
