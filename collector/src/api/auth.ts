import type { IncomingMessage } from 'node:http';

/**
 * Authentication seam. API keys (`Authorization: Bearer ...`, roles admin/auditor)
 * are a later piece of work; until then every request is allowed. Routes that must
 * stay open (health, metrics, the OpenAPI document) are marked `open` and never
 * reach the authenticator, so plugging in real keys changes this file only.
 */

export interface Principal {
  kind: 'anonymous' | 'api_key';
  id?: string;
  role?: 'admin' | 'auditor';
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

export type Authenticator = (req: IncomingMessage) => AuthResult | Promise<AuthResult>;

/** The current policy: allow everything, as an anonymous principal. */
export const allowAll: Authenticator = () => ({ ok: true, principal: { kind: 'anonymous' } });
