/** Stable codes for wire-format failures. */
export type ProtoErrorCode = 'PROTO_DECODE' | 'PROTO_INVALID' | 'PROTO_TOO_LARGE';

/** A batch could not be decoded or does not satisfy the wire contract. */
export class ProtoError extends Error {
  override readonly name = 'ProtoError';
  readonly code: ProtoErrorCode;

  constructor(code: ProtoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
