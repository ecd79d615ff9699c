export {
  RETENTION_DROP,
  RETENTION_FOREVER,
  RETENTION_FOREVER_STORED,
  RETENTION_MAX_DAYS,
  storedRetentionDays,
  validateOrgId,
  validateRetentionDays,
} from './days.js';
export { RetentionError } from './errors.js';
export type { RetentionErrorCode } from './errors.js';
export { RETENTION_BUCKET, createRetentionSettings } from './settings.js';
export type { RetentionSetting, RetentionSettings, RetentionSettingsOptions } from './settings.js';
export { createTtlEnforcer } from './ttl.js';
export type { RetentionApplied, TtlEnforcer, TtlEnforcerOptions } from './ttl.js';
export {
  expiredPartitionsSql,
  materializeTtlSql,
  pendingMutationsSql,
  restampSql,
  stampedRetentionSql,
  ttlTables,
} from './ttl_sql.js';
export type { Statement, TtlSqlOptions, TtlTables } from './ttl_sql.js';
