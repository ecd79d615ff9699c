/**
 * Stable codes for identity failures. `*_INVALID` codes mean the operator must fix a
 * setting or a file; the message names the key or entry that is wrong.
 */
export type IdentityErrorCode =
  | 'CIDR_INVALID'
  | 'POLICY_INVALID'
  | 'PEER_MAP_INVALID'
  | 'PEER_MAP_READ'
  | 'ENCODE_INVALID'
  | 'PARSER_FINISHED';

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
