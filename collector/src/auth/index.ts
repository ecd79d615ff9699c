export { ALL_ORGS, AUTH_ACTIONS, ROLES, authorize } from './authorize.js';
export type { AuthAction, Principal, Role } from './authorize.js';
export { AUTH_ERRORS, AuthError } from './errors.js';
export type { AuthErrorCode } from './errors.js';
export { WWW_AUTHENTICATE, authenticate, credentialOf } from './http.js';
export {
  KEY_PREFIX,
  formatKey,
  hashSecret,
  isKeyId,
  parseKey,
  secretMatches,
} from './key_format.js';
export type { ParsedKey } from './key_format.js';
export { APIKEY_BUCKET, createApiKeys } from './keys.js';
export type { ApiKeyInfo, ApiKeys, ApiKeysOptions, CheckResult, CreateKeyInput } from './keys.js';
export type { AuthFailure } from './telemetry.js';
