/**
 * Errors of the retention module. `code` is stable: the API maps it to an HTTP status
 * (RETENTION_INVALID → 400, the others → 503/500), logs and tests key on it.
 */
export type RetentionErrorCode =
  /** A retention value (or org id) is not acceptable; the message names it. */
  | 'RETENTION_INVALID'
  /** The settings bucket in NATS KV could not be opened, read or written. */
  | 'RETENTION_UNAVAILABLE'
  /** ClickHouse refused a retention ALTER or OPTIMIZE. */
  | 'RETENTION_APPLY'
  /** Used after `close()`. */
  | 'RETENTION_CLOSED';

export class RetentionError extends Error {
  override readonly name = 'RetentionError';

  constructor(
    readonly code: RetentionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
