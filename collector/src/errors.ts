/**
 * Every error the collector raises on purpose. `code` is stable: logs, tests and the
 * API's status mapping key on it, never on the message.
 */
export type CollectorErrorCode =
  /** A config key is unknown, missing or has a bad value; the message names the key. */
  | 'CONFIG_INVALID'
  /** The config file could not be read or is not YAML. */
  | 'CONFIG_READ'
  /** The storage engine could not be opened (chDB load, data dir). */
  | 'STORE_OPEN'
  /** Creating or upgrading the schema failed. */
  | 'STORE_MIGRATE'
  /** ClickHouse refused an INSERT. */
  | 'STORE_INSERT'
  /** ClickHouse refused a query (bad table, bad parameter, limits...). */
  | 'STORE_QUERY'
  /** The statement does not parse. */
  | 'STORE_SYNTAX'
  /** A read-only query tried to write, run DDL or change a setting. */
  | 'STORE_READONLY'
  /** Too many streams are already waiting for the engine. */
  | 'STORE_BUSY'
  /** The query was cancelled by its caller. */
  | 'STORE_ABORTED'
  /** The store was used after `close()`. */
  | 'STORE_CLOSED'
  /** Setting up the JetStream stream or consumer failed. */
  | 'NATS_SETUP'
  /** The collector was used in a state that does not allow it (start twice...). */
  | 'COLLECTOR_STATE';

export class CollectorError extends Error {
  override readonly name = 'CollectorError';

  constructor(
    readonly code: CollectorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
