export { ACTOR_TYPES, ADMIN_ACTIONS, OUTCOMES, isAdminAction } from './actions.js';
export type { ActorType, AdminAction, Outcome } from './actions.js';
export { adminActionsCsv, ADMIN_CSV_COLUMNS } from './csv.js';
export type { AdminCsvOptions } from './csv.js';
export { AdminLogError } from './errors.js';
export type { AdminLogErrorCode } from './errors.js';
export { createKvMirror } from './kv_mirror.js';
export type { KvMirror, KvMirrorOptions, MirrorChangeSource } from './kv_mirror.js';
export { createAdminLog } from './log.js';
export type { AdminActionRecord, AdminLog, AdminLogOptions } from './log.js';
export {
  ADMIN_QUERY_MAX_LIMIT,
  adminActionsSql,
  decodeAdminCursor,
  encodeAdminCursor,
  queryAdminActions,
} from './query.js';
export type { AdminActionEntry, AdminActionPage, AdminActionQuery } from './query.js';
export { REDACTED, isSecretName, redactMetadata } from './redact.js';
