/**
 * Who may do what. Two roles and two scopes:
 *
 * | role    | read (logs, SQL, admin log) | export (CSV) | admin (retention, keys) |
 * | ------- | --------------------------- | ------------ | ----------------------- |
 * | admin   | yes                         | yes          | yes                     |
 * | auditor | yes                         | yes          | no                      |
 *
 * A key scoped to one org reaches that org only; a key with org `*` reaches every org
 * and is the only kind allowed actions that are not about one org (`org: '*'`, such as
 * listing every key or creating an all-orgs key).
 */

export type Role = 'admin' | 'auditor';
export const ROLES: readonly Role[] = ['admin', 'auditor'];

/** Matches every org. */
export const ALL_ORGS = '*';

export type AuthAction = 'read' | 'export' | 'admin';
export const AUTH_ACTIONS: readonly AuthAction[] = ['read', 'export', 'admin'];

export interface Principal {
  kind: 'api_key';
  /** Key id (never the secret). */
  keyId: string;
  /** The key's name, for logs and the admin log's `actor`. */
  name: string;
  role: Role;
  /** The org this key is limited to, or `*`. */
  org: string;
}

const ALLOWED: Record<Role, readonly AuthAction[]> = {
  admin: ['read', 'export', 'admin'],
  auditor: ['read', 'export'],
};

export function authorize(
  principal: Principal,
  request: { org: string; action: AuthAction },
): 'ok' | 'forbidden' {
  const inScope = principal.org === ALL_ORGS || principal.org === request.org;
  if (!inScope) return 'forbidden';
  return ALLOWED[principal.role].includes(request.action) ? 'ok' : 'forbidden';
}
