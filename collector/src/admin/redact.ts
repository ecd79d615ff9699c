/**
 * Metadata of an admin action is stored in ClickHouse and shown to auditors, so it
 * must never hold a secret. Any key whose name looks like one (`secret`, `password`,
 * `passwd`, `token`, `key`, `authorization`, `cookie`, `credential`, case-insensitive,
 * anywhere in the name: `apiKey`, `X-ClickHouse-Key`, `refresh_token`) has its value
 * replaced by "[redacted]", at any depth. Key *ids* are safe and named `keyId`/`id`
 * on purpose: `keyId` is explicitly allowed. A full API key (`clk_<id>_<secret>`) inside
 * any text value keeps its id and loses its secret. Bounded too: depth, keys, string
 * length.
 */

export const REDACTED = '[redacted]';

const SECRET_NAME = /secret|password|passwd|token|key|authorization|cookie|credential/i;
/** Names that contain a secret-looking word but hold identifiers, not secrets. */
const ALLOWED = new Set(['keyId', 'key_id', 'keyName', 'key_name']);

/** An API key pasted into a text value (a query, an error): keep its id, drop its secret. */
const API_KEY_IN_TEXT = /(clk_[0-9a-f]{16}_)[A-Za-z0-9_-]+/g;

const MAX_DEPTH = 6;
const MAX_KEYS = 64;
const MAX_ARRAY = 64;
const MAX_STRING = 4096;

export function isSecretName(name: string): boolean {
  return !ALLOWED.has(name) && SECRET_NAME.test(name);
}

/** A JSON-safe copy of `metadata` with secrets redacted and sizes bounded. */
export function redactMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const out = clean(metadata, 0);
  return typeof out === 'object' && out !== null && !Array.isArray(out)
    ? (out as Record<string, unknown>)
    : {};
}

function clean(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') {
    const text = value.replace(API_KEY_IN_TEXT, `$1${REDACTED}`);
    return text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}\u2026` : text;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value !== 'object') return undefined; // functions, symbols, undefined
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) {
    return value.slice(0, MAX_ARRAY).map((item) => clean(item, depth + 1) ?? null);
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [name, item] of Object.entries(value)) {
    if (n >= MAX_KEYS) {
      out['\u2026'] = 'more keys dropped';
      break;
    }
    n += 1;
    if (isSecretName(name)) {
      out[name] = REDACTED;
      continue;
    }
    const cleaned = clean(item, depth + 1);
    if (cleaned !== undefined) out[name] = cleaned;
  }
  return out;
}
