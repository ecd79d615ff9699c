/**
 * Pure: one NATS message (subject + bytes) → rows for `sessions`, or a rejection with
 * a reason from a closed set. A batch is all or nothing: one bad event rejects the
 * whole batch (it goes to the dead-letter stream intact, nothing of it is stored).
 */
import {
  CloseReason,
  EventKind,
  MAX_ERROR_CHARS,
  Protocol,
  ProtoError,
  bytesToIpv6Text,
  closeReasonName,
  decodeBatch,
  parseSessionsSubject,
  protocolName,
} from '@connlog/proto';
import type { RecordingGap, SessionEvent, SessionEventBatch } from '@connlog/proto';
import type { GapRow, SessionRow } from '../store/store.js';
import {
  EARLIEST_MS,
  MAX_FUTURE_MS,
  MAX_GAP_REASON_CHARS,
  MAX_HOST_CHARS,
  MAX_IDENTITY_CHARS,
  MAX_ID_CHARS,
} from './limits.js';

/** Why a batch was rejected; becomes the dead-letter subject token and a metric label. */
export type RejectReason = 'too_large' | 'decode' | 'invalid' | 'subject';

export const REJECT_REASONS: readonly RejectReason[] = [
  'too_large',
  'decode',
  'invalid',
  'subject',
];

export type DecodeResult =
  | {
      ok: true;
      org: string;
      site: string;
      agentId: string;
      batchSeq: number;
      /** The org's retention (0 = store nothing). */
      retentionDays: number;
      /** Events of the batch (one row each). */
      rows: SessionRow[];
      gaps: RecordingGap[];
      /** Recording gaps the batch reports (one row each). */
      gapRows: GapRow[];
    }
  | { ok: false; reason: RejectReason; message: string };

export interface DecodeOptions {
  /** Days stamped on each row; the org's retention. */
  retentionFor: (org: string) => number;
  /** Clock for the "not in the future" check. @default Date.now */
  now?: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const KINDS = new Set<number>([EventKind.START, EventKind.UPDATE, EventKind.END]);
const PROTOCOLS = new Set<number>([Protocol.TCP, Protocol.UDP]);
const CLOSE_REASONS = new Set<number>(
  Object.values(CloseReason).filter((value): value is number => typeof value === 'number'),
);

class Invalid extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Invalid(message);
}

function checkTime(value: number, field: string, now: number): void {
  check(
    Number.isSafeInteger(value) && value >= EARLIEST_MS && value <= now + MAX_FUTURE_MS,
    `${field} ${value} is not a plausible time (ms since the epoch, 2000 to now + 1 day)`,
  );
}

function checkCounter(value: number, field: string): void {
  check(Number.isSafeInteger(value) && value >= 0, `${field} ${value} is not a counter`);
}

function checkIp(bytes: Uint8Array, field: string): void {
  check(
    bytes.length === 0 || bytes.length === 4 || bytes.length === 16,
    `${field} has ${bytes.length} bytes (want 0, 4 or 16)`,
  );
}

function checkText(value: string, max: number, field: string): void {
  check(value.length <= max, `${field} is ${value.length} characters (at most ${max})`);
}

function toRow(
  event: SessionEvent,
  batch: SessionEventBatch,
  retentionDays: number,
  now: number,
): SessionRow {
  check(UUID.test(event.sessionId), 'session_id is not a UUID');
  check(KINDS.has(event.kind), `kind ${event.kind} is unknown`);
  check(PROTOCOLS.has(event.protocol), `protocol ${event.protocol} is not TCP or UDP`);
  check(CLOSE_REASONS.has(event.closeReason), `close_reason ${event.closeReason} is unknown`);
  check(Number.isSafeInteger(event.seq) && event.seq >= 1, `seq ${event.seq} is not >= 1`);
  check(event.agentId === '' || event.agentId === batch.agentId, 'agent_id differs from the batch');
  check(event.sourcePort <= 65535, `source_port ${event.sourcePort} is over 65535`);
  check(event.destPort <= 65535, `dest_port ${event.destPort} is over 65535`);
  checkIp(event.sourceIp, 'source_ip');
  checkIp(event.destIp, 'dest_ip');
  checkText(event.resourceId, MAX_ID_CHARS, 'resource_id');
  checkText(event.clientId, MAX_IDENTITY_CHARS, 'client_id');
  checkText(event.userId, MAX_IDENTITY_CHARS, 'user_id');
  checkText(event.destHost, MAX_HOST_CHARS, 'dest_host');
  checkText(event.error, MAX_ERROR_CHARS, 'error');
  checkTime(event.startedAtMs, 'started_at_ms', now);
  checkTime(event.eventAtMs, 'event_at_ms', now);
  checkCounter(event.bytesTx, 'bytes_tx');
  checkCounter(event.bytesRx, 'bytes_rx');
  checkCounter(event.packetsTx, 'packets_tx');
  checkCounter(event.packetsRx, 'packets_rx');
  const ended = event.kind === EventKind.END;
  if (ended) checkTime(event.endedAtMs, 'ended_at_ms (required on END)', now);
  const until = ended ? event.endedAtMs : event.eventAtMs;
  return {
    org_id: batch.orgId,
    site_id: batch.siteId,
    agent_id: batch.agentId,
    resource_id: event.resourceId,
    session_id: event.sessionId.toLowerCase(),
    protocol: protocolName(event.protocol),
    client_id: event.clientId,
    user_id: event.userId,
    source_ip: bytesToIpv6Text(event.sourceIp),
    source_port: event.sourcePort,
    dest_ip: bytesToIpv6Text(event.destIp),
    dest_port: event.destPort,
    dest_host: event.destHost,
    started_at: event.startedAtMs,
    ended_at: ended ? event.endedAtMs : null,
    // Wall clocks can step back; a negative duration would be noise, not information.
    duration_ms: Math.max(0, until - event.startedAtMs),
    bytes_tx: event.bytesTx,
    bytes_rx: event.bytesRx,
    packets_tx: event.packetsTx,
    packets_rx: event.packetsRx,
    close_reason: ended ? closeReasonName(event.closeReason) : '',
    error: event.error,
    status: ended ? 'completed' : 'ongoing',
    retention_days: retentionDays,
    version: event.seq,
  };
}

function toGapRow(
  gap: RecordingGap,
  batch: SessionEventBatch,
  retentionDays: number,
  now: number,
): GapRow {
  checkTime(gap.fromMs, 'from_ms', now);
  checkTime(gap.toMs, 'to_ms', now);
  check(gap.toMs >= gap.fromMs, `to_ms ${gap.toMs} is before from_ms ${gap.fromMs}`);
  checkCounter(gap.sessionsNotRecorded, 'sessions_not_recorded');
  checkText(gap.reason, MAX_GAP_REASON_CHARS, 'reason');
  return {
    org_id: batch.orgId,
    site_id: batch.siteId,
    agent_id: batch.agentId,
    from_at: gap.fromMs,
    to_at: gap.toMs,
    sessions_not_recorded: gap.sessionsNotRecorded,
    reason: gap.reason,
    retention_days: retentionDays,
  };
}

/** Decode and validate one message. Never throws. */
export function decodeMessage(
  subject: string,
  data: Uint8Array,
  options: DecodeOptions,
): DecodeResult {
  const fromSubject = parseSessionsSubject(subject);
  if (!fromSubject) {
    return {
      ok: false,
      reason: 'subject',
      message: `subject ${subject} is not connlog.v1.sessions.<org>.<site>`,
    };
  }
  let batch: SessionEventBatch;
  try {
    batch = decodeBatch(data);
  } catch (err) {
    if (err instanceof ProtoError) {
      const reason: RejectReason =
        err.code === 'PROTO_TOO_LARGE'
          ? 'too_large'
          : err.code === 'PROTO_DECODE'
            ? 'decode'
            : 'invalid';
      return { ok: false, reason, message: err.message };
    }
    return {
      ok: false,
      reason: 'decode',
      message: err instanceof Error ? err.message : String(err),
    };
  }
  const { org, site } = fromSubject;
  if (batch.orgId !== org || batch.siteId !== site) {
    return {
      ok: false,
      reason: 'subject',
      message: `batch says org "${batch.orgId}" site "${batch.siteId}" but was published to ${subject}`,
    };
  }
  const mismatch = batch.events.findIndex((event) => event.orgId !== org || event.siteId !== site);
  if (mismatch >= 0) {
    const event = batch.events[mismatch];
    return {
      ok: false,
      reason: 'subject',
      message: `events[${mismatch}] says org "${event?.orgId ?? ''}" site "${event?.siteId ?? ''}" but was published to ${subject}`,
    };
  }
  const now = (options.now ?? Date.now)();
  if (!Number.isSafeInteger(batch.batchSeq)) {
    return { ok: false, reason: 'invalid', message: `batch_seq ${batch.batchSeq} is out of range` };
  }
  if (batch.agentId.length > MAX_ID_CHARS) {
    return {
      ok: false,
      reason: 'invalid',
      message: `agent_id is longer than ${MAX_ID_CHARS} characters`,
    };
  }
  const retentionDays = options.retentionFor(org);
  const rows: SessionRow[] = [];
  for (let index = 0; index < batch.events.length; index += 1) {
    const event = batch.events[index];
    if (event === undefined) continue;
    try {
      rows.push(toRow(event, batch, retentionDays, now));
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      return { ok: false, reason: 'invalid', message: `events[${index}] ${err.message}` };
    }
  }
  const gapRows: GapRow[] = [];
  for (let index = 0; index < batch.gaps.length; index += 1) {
    const gap = batch.gaps[index];
    if (gap === undefined) continue;
    try {
      gapRows.push(toGapRow(gap, batch, retentionDays, now));
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      return { ok: false, reason: 'invalid', message: `gaps[${index}] ${err.message}` };
    }
  }
  return {
    ok: true,
    org,
    site,
    agentId: batch.agentId,
    batchSeq: batch.batchSeq,
    retentionDays,
    rows,
    gaps: batch.gaps,
    gapRows,
  };
}
