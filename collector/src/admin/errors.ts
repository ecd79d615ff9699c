/** Errors of the admin action log; `code` is stable (the API maps it to a status). */
export type AdminLogErrorCode =
  /** A record or a query parameter is not acceptable; the message names it. (400) */
  | 'ADMIN_LOG_INVALID'
  /** The buffer of records waiting for ClickHouse is full; the record was not kept. (503) */
  | 'ADMIN_LOG_FULL'
  /** ClickHouse refused the query. (503) */
  | 'ADMIN_LOG_QUERY'
  /** Used after `close()`. */
  | 'ADMIN_LOG_CLOSED';

export class AdminLogError extends Error {
  override readonly name = 'AdminLogError';

  constructor(
    readonly code: AdminLogErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
