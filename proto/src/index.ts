export { ProtoError } from './errors.js';
export type { ProtoErrorCode } from './errors.js';
export {
  EventKind,
  Protocol,
  CloseReason,
  CLOSE_REASON_NAMES,
  PROTOCOL_NAMES,
  closeReasonName,
  closeReasonFromName,
  protocolName,
} from './enums.js';
export type { CloseReasonName, ProtocolName } from './enums.js';
export {
  encodeBatch,
  encodeSessionEvent,
  encodeBatchOfEncoded,
  decodeSessionEvent,
  decodeBatch,
  MAX_BATCH_BYTES,
  MAX_ERROR_CHARS,
} from './codec.js';
export type {
  SessionEvent,
  SessionEventBatch,
  SessionEventInput,
  SessionEventBatchInput,
  RecordingGap,
} from './codec.js';
export {
  SESSIONS_STREAM,
  SESSIONS_SUBJECT_PREFIX,
  isValidToken,
  sessionsSubject,
  parseSessionsSubject,
  batchMsgId,
} from './subjects.js';
export { ipToBytes, bytesToIp, bytesToIpv6Text } from './ip.js';
