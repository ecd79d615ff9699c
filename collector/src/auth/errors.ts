/**
 * Errors of API key handling. `code` is stable; `status` is the HTTP status the API
 * answers with.
 */
export const AUTH_ERRORS = {
  /** No credentials on a request that needs them. */
  AUTH_REQUIRED: 401,
  /** Credentials present but not a valid, unrevoked key (or unparseable header). */
  AUTH_INVALID: 401,
  /** A valid key whose role or org scope does not allow the request. */
  AUTH_FORBIDDEN: 403,
  /** A bad parameter to create/revoke (role, org, name, id); the message names it. */
  APIKEY_INVALID: 400,
  /** No key with this id. */
  APIKEY_NOT_FOUND: 404,
  /** The key bucket in NATS KV could not be opened, read or written. */
  APIKEY_UNAVAILABLE: 503,
  /** Used after `close()`. */
  APIKEY_CLOSED: 503,
} as const;

export type AuthErrorCode = keyof typeof AUTH_ERRORS;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly status: number;

  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = AUTH_ERRORS[code];
  }
}
