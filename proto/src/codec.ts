import { connlog } from './generated/connlog.js';
import { ProtoError } from './errors.js';
import { EventKind } from './enums.js';
import type { CloseReason, Protocol } from './enums.js';

/**
 * One session event with every field present (proto3 defaults filled in).
 * `bytesTx` = client → target, `bytesRx` = target → client.
 */
export interface SessionEvent {
  sessionId: string;
  kind: EventKind;
  seq: number;
  orgId: string;
  siteId: string;
  agentId: string;
  resourceId: string;
  protocol: Protocol;
  clientId: string;
  userId: string;
  sourceIp: Uint8Array;
  sourcePort: number;
  destIp: Uint8Array;
  destPort: number;
  destHost: string;
  startedAtMs: number;
  eventAtMs: number;
  endedAtMs: number;
  bytesTx: number;
  bytesRx: number;
  packetsTx: number;
  packetsRx: number;
  closeReason: CloseReason;
  error: string;
}

export interface RecordingGap {
  fromMs: number;
  toMs: number;
  sessionsNotRecorded: number;
  reason: string;
}

export interface SessionEventBatch {
  agentId: string;
  batchSeq: number;
  sentAtMs: number;
  orgId: string;
  siteId: string;
  agentVersion: string;
  events: SessionEvent[];
  gaps: RecordingGap[];
}

export type SessionEventInput = Partial<SessionEvent>;
export type SessionEventBatchInput = Partial<Omit<SessionEventBatch, 'events' | 'gaps'>> & {
  events?: SessionEventInput[];
  gaps?: Partial<RecordingGap>[];
};

/**
 * Largest batch accepted on the wire. NATS' default `max_payload` is 1 MiB; the agent
 * keeps its batches well below this and the collector refuses anything larger.
 */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** Upper bound of the `error` text carried by an event. */
export const MAX_ERROR_CHARS = 256;

export function encodeSessionEvent(event: SessionEventInput): Uint8Array {
  return connlog.v1.SessionEvent.encode(event).finish();
}

export function encodeBatch(batch: SessionEventBatchInput): Uint8Array {
  return connlog.v1.SessionEventBatch.encode(batch).finish();
}

/** Tag of `SessionEventBatch.events` (field 4, length-delimited). */
const EVENTS_TAG = (4 << 3) | 2;

/**
 * The batch `encodeBatch` makes, byte for byte, from events already encoded with
 * `encodeSessionEvent`: a producer that sized each event by encoding it does not
 * encode it a second time. `batch.events` is ignored.
 */
export function encodeBatchOfEncoded(
  batch: SessionEventBatchInput,
  encodedEvents: readonly Uint8Array[],
): Uint8Array {
  // Fields in the generated encoder's order: 1-3, then the events (4), then 5-8.
  const writer = connlog.v1.SessionEventBatch.encode({
    agentId: batch.agentId,
    batchSeq: batch.batchSeq,
    sentAtMs: batch.sentAtMs,
  });
  for (const event of encodedEvents) writer.uint32(EVENTS_TAG).bytes(event);
  return connlog.v1.SessionEventBatch.encode(
    {
      orgId: batch.orgId,
      siteId: batch.siteId,
      gaps: batch.gaps,
      agentVersion: batch.agentVersion,
    },
    writer,
  ).finish();
}

/**
 * Decode one event encoded with `encodeSessionEvent` into a plain object with every
 * field present (IP addresses as plain `Uint8Array`s). Throws `ProtoError`
 * (`PROTO_DECODE`) when the bytes are not an event.
 */
export function decodeSessionEvent(bytes: Uint8Array): SessionEvent {
  let m: connlog.v1.SessionEvent;
  try {
    m = connlog.v1.SessionEvent.decode(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ProtoError('PROTO_DECODE', `event is not valid protobuf: ${reason}`, { cause: err });
  }
  return {
    sessionId: m.sessionId,
    kind: m.kind,
    seq: m.seq,
    orgId: m.orgId,
    siteId: m.siteId,
    agentId: m.agentId,
    resourceId: m.resourceId,
    protocol: m.protocol,
    clientId: m.clientId,
    userId: m.userId,
    sourceIp: Uint8Array.from(m.sourceIp),
    sourcePort: m.sourcePort,
    destIp: Uint8Array.from(m.destIp),
    destPort: m.destPort,
    destHost: m.destHost,
    startedAtMs: m.startedAtMs,
    eventAtMs: m.eventAtMs,
    endedAtMs: m.endedAtMs,
    bytesTx: m.bytesTx,
    bytesRx: m.bytesRx,
    packetsTx: m.packetsTx,
    packetsRx: m.packetsRx,
    closeReason: m.closeReason,
    error: m.error,
  };
}

/**
 * Decode one batch. Throws `ProtoError` with code `PROTO_TOO_LARGE` (over `maxBytes`),
 * `PROTO_DECODE` (not protobuf, or truncated), or `PROTO_INVALID` (decodes, but is not a
 * batch: missing agent id or sequence, events without a session id or kind).
 */
export function decodeBatch(bytes: Uint8Array, maxBytes = MAX_BATCH_BYTES): SessionEventBatch {
  if (bytes.length > maxBytes) {
    throw new ProtoError(
      'PROTO_TOO_LARGE',
      `batch is ${bytes.length} bytes, larger than the limit of ${maxBytes}`,
    );
  }
  let decoded: connlog.v1.SessionEventBatch;
  try {
    decoded = connlog.v1.SessionEventBatch.decode(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ProtoError('PROTO_DECODE', `batch is not valid protobuf: ${reason}`, { cause: err });
  }
  const batch = decoded as unknown as SessionEventBatch;
  assertBatchShape(batch);
  return batch;
}

const KNOWN_KINDS = new Set<number>([EventKind.START, EventKind.UPDATE, EventKind.END]);

function assertBatchShape(batch: SessionEventBatch): void {
  if (batch.agentId === '') throw new ProtoError('PROTO_INVALID', 'batch has no agent_id');
  if (batch.batchSeq <= 0) throw new ProtoError('PROTO_INVALID', 'batch has no batch_seq');
  if (batch.events.length === 0 && batch.gaps.length === 0) {
    throw new ProtoError('PROTO_INVALID', 'batch has neither events nor gaps');
  }
  batch.events.forEach((event, index) => {
    if (event.sessionId === '') {
      throw new ProtoError('PROTO_INVALID', `events[${index}] has no session_id`);
    }
    if (!KNOWN_KINDS.has(event.kind)) {
      throw new ProtoError('PROTO_INVALID', `events[${index}] has an unknown kind ${event.kind}`);
    }
  });
}
