/**
 * Stable codes for spool failures. `SPOOL_OPTION_INVALID` and `SPOOL_BATCH_INVALID`
 * are caller mistakes (the message names the option or field); `SPOOL_IO` means the
 * disk refused a read or write; the others are lifecycle misuse.
 */
export type SpoolErrorCode =
  | 'SPOOL_OPTION_INVALID'
  | 'SPOOL_BATCH_INVALID'
  | 'SPOOL_SEQ_ORDER'
  | 'SPOOL_NOT_OPEN'
  | 'SPOOL_ALREADY_OPEN'
  | 'SPOOL_CLOSED'
  | 'SPOOL_IO';

export class SpoolError extends Error {
  override readonly name = 'SpoolError';
  readonly code: SpoolErrorCode;

  constructor(code: SpoolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The errno code of a Node fs error, if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const { code } = err;
  return typeof code === 'string' ? code : undefined;
}
