import { Registry } from '@connlog/metrics';
import { CloseReason, EventKind, Protocol, type SessionEvent } from '@connlog/proto';
import { pino } from 'pino';
import { Telemetry } from '../../src/telemetry.js';

export function silentTelemetry(): Telemetry {
  return new Telemetry(pino({ level: 'silent' }), new Registry());
}

let counter = 0;

export function event(patch: Partial<SessionEvent> = {}): SessionEvent {
  counter += 1;
  return {
    sessionId: `0190a000-0000-7000-8000-${String(counter).padStart(12, '0')}`,
    kind: EventKind.START,
    seq: 1,
    orgId: 'acme',
    siteId: 'berlin',
    agentId: 'agent-1',
    resourceId: 'db',
    protocol: Protocol.TCP,
    clientId: '',
    userId: '',
    sourceIp: Uint8Array.of(127, 0, 0, 1),
    sourcePort: 40000,
    destIp: Uint8Array.of(10, 0, 0, 5),
    destPort: 5432,
    destHost: '10.0.0.5',
    startedAtMs: 1_750_000_000_000,
    eventAtMs: 1_750_000_000_000,
    endedAtMs: 0,
    bytesTx: 0,
    bytesRx: 0,
    packetsTx: 0,
    packetsRx: 0,
    closeReason: CloseReason.CLOSE_REASON_UNSPECIFIED,
    error: '',
    ...patch,
  };
}

/** `list.at(index)`, failing the test when it is missing. */
export function nth<T>(list: readonly T[], index: number): T {
  const value = list.at(index);
  if (value === undefined) throw new Error(`no element at ${index} (length ${list.length})`);
  return value;
}
