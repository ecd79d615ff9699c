/**
 * The `sessions` rows of one agent batch as the ingest decoder validated them: the
 * protobuf events plus what all of them share. A `SessionPayload` encodes straight from
 * these, without an object per row (the collector's GC cost under load,
 * docs/benchmarks.md); `toRows()` builds the row objects for whoever needs them (the
 * live tail, the HTTP store). `sessionRowOf` and `toEventsRowBinary` (row_binary.ts)
 * must agree column for column; a unit test holds them to it.
 */
import { EventKind, bytesToIpv6Text, closeReasonName, protocolName } from '@connlog/proto';
import type { SessionEvent } from '@connlog/proto';
import type { SessionRow } from './store.js';

export interface EventRowsShared {
  readonly orgId: string;
  readonly siteId: string;
  readonly agentId: string;
  /** The org's retention, stamped on every row. */
  readonly retentionDays: number;
}

export class EventRows {
  constructor(
    readonly shared: EventRowsShared,
    /** Validated events (decode.ts), one row each. */
    readonly events: readonly SessionEvent[],
  ) {}

  get length(): number {
    return this.events.length;
  }

  toRows(): SessionRow[] {
    return this.events.map((event) => sessionRowOf(event, this.shared));
  }
}

/** The `sessions` row of one validated event. */
export function sessionRowOf(event: SessionEvent, shared: EventRowsShared): SessionRow {
  const ended = event.kind === EventKind.END;
  const until = ended ? event.endedAtMs : event.eventAtMs;
  return {
    org_id: shared.orgId,
    site_id: shared.siteId,
    agent_id: shared.agentId,
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
    retention_days: shared.retentionDays,
    version: event.seq,
  };
}
