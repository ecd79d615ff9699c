export { createCollector } from './collector.js';
export type { Collector, CollectorOptions, CollectorState, CollectorStatus } from './collector.js';
export { loadConfig, parseConfig, CONFIG_FIELDS, envName } from './config.js';
export type {
  CollectorConfig,
  NatsConfig,
  StreamConfig,
  ConsumerConfig,
  DeadLetterConfig,
  ClickHouseConfig,
  IngestConfig,
  RetentionConfig,
  HttpConfig,
  LogConfig,
} from './config.js';
export { CollectorError } from './errors.js';
export type { CollectorErrorCode } from './errors.js';
export { createStore } from './store/index.js';
export type {
  Store,
  SessionRow,
  AdminActionRow,
  QueryOptions,
  InsertOptions,
} from './store/store.js';
export { SESSION_COLUMNS } from './store/schema.js';
export { decodeMessage, REJECT_REASONS } from './ingest/decode.js';
export type { DecodeResult, RejectReason } from './ingest/decode.js';
export { DEAD_LETTER_HEADERS } from './ingest/dead_letter.js';
export type { RowsStoredListener } from './ingest/rows_stored.js';
