import {
  CloseReason,
  EventKind,
  Protocol,
  encodeBatch,
  ipToBytes,
  type SessionEventBatchInput,
  type SessionEventInput,
} from '@connlog/proto';
import { uuidv7 } from '@connlog/testkit';

export const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** A START event; override what the test is about. */
export function startEvent(overrides: SessionEventInput = {}): SessionEventInput {
  const startedAtMs = overrides.startedAtMs ?? Date.now() - 60_000;
  return {
    sessionId: uuidv7(startedAtMs),
    kind: EventKind.START,
    seq: 1,
    orgId: 'acme',
    siteId: 'berlin',
    agentId: 'agent-1',
    resourceId: 'db',
    protocol: Protocol.TCP,
    sourceIp: ipToBytes('192.0.2.10'),
    sourcePort: 50000,
    destIp: ipToBytes('10.0.0.5'),
    destPort: 5432,
    destHost: 'db.internal',
    startedAtMs,
    eventAtMs: startedAtMs,
    ...overrides,
  };
}

/** The events of one whole session: START, UPDATE, END with growing counters. */
export function sessionEvents(overrides: SessionEventInput = {}): SessionEventInput[] {
  const start = startEvent(overrides);
  const startedAtMs = start.startedAtMs ?? 0;
  return [
    start,
    {
      ...start,
      kind: EventKind.UPDATE,
      seq: 2,
      eventAtMs: startedAtMs + 1000,
      bytesTx: 10,
      bytesRx: 20,
    },
    {
      ...start,
      kind: EventKind.END,
      seq: 3,
      eventAtMs: startedAtMs + 2000,
      endedAtMs: startedAtMs + 2000,
      bytesTx: 100,
      bytesRx: 2000,
      closeReason: CloseReason.CLIENT_CLOSED,
    },
  ];
}

let batchSeq = 0;

export function batchBytes(
  events: SessionEventInput[],
  overrides: SessionEventBatchInput = {},
): Uint8Array {
  batchSeq += 1;
  return encodeBatch({
    agentId: 'agent-1',
    batchSeq,
    sentAtMs: Date.now(),
    orgId: 'acme',
    siteId: 'berlin',
    events,
    ...overrides,
  });
}
