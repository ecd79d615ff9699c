/**
 * What a retention value means, and how it is stamped on rows.
 *
 * The sessions table expires a row at `toDateTime(started_at) + toIntervalDay(retention_days)`.
 * `DateTime` ends on 2106-02-07 and ClickHouse date arithmetic wraps around past it
 * instead of saturating (measured on ClickHouse 26.7: now + 36500 days = 1990-09-22),
 * so a row stamped with a long enough retention would expire at once. Hence the upper
 * bound on ordinary values, and "keep forever" as a sentinel (see docs/retention.md).
 */
import { RetentionError } from './errors.js';

/** Do not store: ingest acks the org's events and drops them (counted). */
export const RETENTION_DROP = 0;
/** Keep forever. */
export const RETENTION_FOREVER = -1;
/**
 * Longest ordinary retention: 10 years. Longer than the audit rules we know of
 * (7 years), and far enough from DateTime's 2106 limit for rows started before 2096.
 * Use {@link RETENTION_FOREVER} for more.
 */
export const RETENTION_MAX_DAYS = 3650;
/**
 * `retention_days` stamped on rows of an org that keeps them forever: the UInt16
 * maximum, a value no ordinary setting can take, so `retention_days = 65535` finds
 * them in SQL.
 */
export const RETENTION_FOREVER_STORED = 65_535;

/**
 * `value` as a retention in days: an integer, -1 (forever), 0 (do not store) or
 * 1..3650. `what` names the setting in the error (`retention.defaultDays`, `days`).
 */
export function validateRetentionDays(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (
    typeof n !== 'number' ||
    !Number.isInteger(n) ||
    (n !== RETENTION_FOREVER && (n < 0 || n > RETENTION_MAX_DAYS))
  ) {
    throw new RetentionError(
      'RETENTION_INVALID',
      `${what} must be an integer: -1 (keep forever), 0 (do not store) or 1..${RETENTION_MAX_DAYS} days, got ${describe(value)}`,
    );
  }
  return n;
}

/**
 * The `retention_days` column value for a retention setting. 0 has no stored form:
 * such events are never inserted, so asking for it is a bug in the caller.
 */
export function storedRetentionDays(days: number): number {
  if (days === RETENTION_FOREVER) return RETENTION_FOREVER_STORED;
  if (!Number.isInteger(days) || days < 1 || days > RETENTION_MAX_DAYS) {
    throw new RetentionError(
      'RETENTION_INVALID',
      `retention ${describe(days)} has no stored form (0 means the events are dropped)`,
    );
  }
  return days;
}

/** The org id as a KV key and ClickHouse value: what the API accepts for `{org}`. */
const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function validateOrgId(org: unknown, what = 'org'): string {
  if (typeof org !== 'string' || !ORG_ID.test(org)) {
    throw new RetentionError(
      'RETENTION_INVALID',
      `${what} must be 1-64 characters of letters, digits, "_" or "-", got ${describe(org)}`,
    );
  }
  return org;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 80));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  return typeof value;
}
