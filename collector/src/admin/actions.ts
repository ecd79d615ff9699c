/**
 * The admin actions connlog records. The strings are stable: audit queries and
 * alerts match on them. docs/admin-log.md documents each one; a unit test keeps the
 * two in sync.
 */
export const ADMIN_ACTIONS = {
  /** An org's retention was changed (`metadata`: `days`, `previousDays`). */
  'retention.update': 'change an org\u2019s retention',
  /** An API key was created (`metadata`: `keyId`, `role`, `scope`, `name`). */
  'apikey.create': 'create an API key',
  /** An API key was revoked (`metadata`: `keyId`). */
  'apikey.revoke': 'revoke an API key',
  /** Network logs were exported as CSV (`metadata`: the filters, `rows`). */
  'logs.export': 'export network logs',
  /** A statement ran on the SQL endpoint (`metadata`: `query` text, `rows`). */
  'sql.query': 'run a SQL query',
  /** Another collector or org setting was changed (`metadata`: `setting`, `value`). */
  'settings.update': 'change a setting',
} as const;

export type AdminAction = keyof typeof ADMIN_ACTIONS;

export const ACTOR_TYPES = ['user', 'api_key', 'cli'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export const OUTCOMES = ['success', 'denied', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function isAdminAction(value: string): value is AdminAction {
  return Object.hasOwn(ADMIN_ACTIONS, value);
}
