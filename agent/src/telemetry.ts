import type { Counter, CounterSeries, Gauge, GaugeSeries, Registry } from '@connlog/metrics';
import { closeReasonName, type CloseReason, type RecordingGap } from '@connlog/proto';
import type { Logger } from 'pino';
import { describeError } from './errors.js';

/** Where a publishing failure happened: a closed set, used as a metric label. */
export type PublishStage = 'journal' | 'spool' | 'connect' | 'publish';

/** Why a UDP datagram was not forwarded: a closed set, used as a metric label. */
export type UdpDropReason = 'flows_full' | 'queue_full' | 'too_large' | 'closing' | 'send_failed';

/** A condition that repeats per datagram is logged at most this often. */
export const DROP_LOG_INTERVAL_MS = 60_000;

/** Why new sessions go unrecorded (the `reason` of a `RecordingGap`). */
export type GapReason = 'spool_full' | 'buffer_full';

/**
 * One method per lifecycle event: each writes its log line and updates its metrics
 * together, so they never drift. Per-session lines are debug; anything that needs an
 * operator is logged once per streak (until the condition clears), never per event.
 */
export class Telemetry {
  private readonly sessionsOpen: Gauge;
  private readonly sessionsStarted: Counter;
  private readonly sessionsEnded: Counter;
  private readonly bytes: Counter;
  private readonly notRecorded: Counter;
  private readonly updatesSkipped: Counter;
  private readonly gaps: Counter;
  private readonly eventsPublished: Counter;
  private readonly batchesPublished: Counter;
  private readonly batchesSpooled: Counter;
  private readonly publishErrors: Counter;
  private readonly natsConnectedGauge: Gauge;
  private readonly acceptErrors: Counter;
  private readonly udpDrops: Counter;
  readonly spoolBytes: Gauge;
  readonly spoolBatches: Gauge;
  readonly bufferBytes: Gauge;
  private readonly failing = new Set<string>();
  /** Per resource and drop reason: when it was last logged, and drops since. */
  private readonly dropLog = new Map<string, { loggedAt: number; since: number }>();
  private readonly unreachable = new Set<string>();
  private readonly resources = new Map<string, ResourceTelemetry>();

  constructor(
    readonly log: Logger,
    readonly registry: Registry,
  ) {
    this.sessionsOpen = registry.gauge(
      'connlog_agent_sessions_open',
      'Sessions currently open, per resource.',
      ['resource'],
    );
    this.sessionsStarted = registry.counter(
      'connlog_agent_sessions_started_total',
      'Sessions accepted, per resource (failed dials included).',
      ['resource'],
    );
    this.sessionsEnded = registry.counter(
      'connlog_agent_sessions_ended_total',
      'Sessions ended, per resource and close reason.',
      ['resource', 'reason'],
    );
    this.bytes = registry.counter(
      'connlog_agent_bytes_total',
      'Proxied bytes; tx = received from clients, rx = received from targets.',
      ['resource', 'direction'],
    );
    this.notRecorded = registry.counter(
      'connlog_agent_sessions_not_recorded_total',
      'Sessions proxied without being recorded because a buffer bound was hit.',
    );
    this.updatesSkipped = registry.counter(
      'connlog_agent_updates_skipped_total',
      'UPDATE events skipped because the in-memory buffer was full (END still carries the totals).',
    );
    this.gaps = registry.counter(
      'connlog_agent_recording_gaps_total',
      'Recording gaps reported, per reason.',
      ['reason'],
    );
    this.eventsPublished = registry.counter(
      'connlog_agent_events_published_total',
      'Session events acknowledged by JetStream.',
    );
    this.batchesPublished = registry.counter(
      'connlog_agent_batches_published_total',
      'Batches acknowledged by JetStream.',
    );
    this.batchesSpooled = registry.counter(
      'connlog_agent_batches_spooled_total',
      'Batches appended to the spool.',
    );
    this.publishErrors = registry.counter(
      'connlog_agent_publish_errors_total',
      'Failures on the way to JetStream, per stage (journal, spool, connect, publish).',
      ['stage'],
    );
    this.natsConnectedGauge = registry.gauge(
      'connlog_agent_nats_connected',
      '1 while connected to NATS.',
    );
    this.spoolBytes = registry.gauge(
      'connlog_agent_spool_bytes',
      'Bytes of unacknowledged batches in the spool.',
    );
    this.spoolBatches = registry.gauge(
      'connlog_agent_spool_batches',
      'Unacknowledged batches in the spool.',
    );
    this.bufferBytes = registry.gauge(
      'connlog_agent_buffer_bytes',
      'Encoded events held in memory on their way to the spool.',
    );
    this.udpDrops = registry.counter(
      'connlog_agent_udp_datagrams_dropped_total',
      'UDP datagrams not forwarded, per resource and reason.',
      ['resource', 'reason'],
    );
    this.acceptErrors = registry.counter(
      'connlog_agent_accept_errors_total',
      'Clients the listener failed to accept, per resource.',
      ['resource'],
    );
    this.natsConnectedGauge.set({}, 0);
  }

  listening(resourceId: string, protocol: string, address: string, target: string): void {
    this.sessionsOpen.set({ resource: resourceId }, 0);
    this.log.info(
      { resource: resourceId, protocol, listen: address, target },
      'resource listening',
    );
  }

  /** The listener could not accept a client (EMFILE, ...): the client is not served. */
  acceptFailed(resourceId: string, err: unknown): void {
    this.acceptErrors.inc({ resource: resourceId });
    this.log.error({ resource: resourceId, err: describeError(err) }, 'accept failed');
  }

  /**
   * A datagram was not forwarded: counted; logged at most once per resource and reason
   * every `DROP_LOG_INTERVAL_MS`, with the number dropped since the previous line.
   */
  udpDropped(resourceId: string, reason: UdpDropReason, now = Date.now()): void {
    this.udpDrops.inc({ resource: resourceId, reason });
    const key = `${resourceId}\u0000${reason}`;
    const entry = this.dropLog.get(key);
    if (entry !== undefined && now - entry.loggedAt < DROP_LOG_INTERVAL_MS) {
      entry.since += 1;
      return;
    }
    const dropped = (entry?.since ?? 0) + 1;
    this.dropLog.set(key, { loggedAt: now, since: 0 });
    this.log.warn(
      { resource: resourceId, reason, dropped, intervalMs: DROP_LOG_INTERVAL_MS },
      'dropping UDP datagrams (counted in metrics; logged at most once per interval)',
    );
  }

  /**
   * The per-session events of one resource, with its metric series looked up once (a
   * resource id comes from the config: a bounded set).
   */
  resource(resourceId: string): ResourceTelemetry {
    let found = this.resources.get(resourceId);
    if (found === undefined) {
      found = new ResourceTelemetry(resourceId, this.log, {
        sessionsStarted: this.sessionsStarted,
        sessionsEnded: this.sessionsEnded,
        sessionsOpen: this.sessionsOpen,
        bytes: this.bytes,
      });
      this.resources.set(resourceId, found);
    }
    return found;
  }

  /** A dial failed: warn once until a dial to this resource succeeds again. */
  targetUnreachable(resourceId: string, target: string, error: string): void {
    if (this.unreachable.has(resourceId)) return;
    this.unreachable.add(resourceId);
    this.log.warn({ resource: resourceId, target, error }, 'target unreachable');
  }

  targetReachable(resourceId: string, target: string): void {
    if (!this.unreachable.delete(resourceId)) return;
    this.log.info({ resource: resourceId, target }, 'target reachable again');
  }

  sessionNotRecorded(): void {
    this.notRecorded.inc();
  }

  updateSkipped(): void {
    this.updatesSkipped.inc();
  }

  recordingGapStarted(reason: GapReason, bufferedBytes: number): void {
    this.log.error(
      { reason, bufferedBytes },
      'buffer full: new sessions are proxied but not recorded until it drains',
    );
  }

  recordingGapEnded(gap: RecordingGap): void {
    this.gaps.inc({ reason: gap.reason });
    this.log.warn(
      {
        reason: gap.reason,
        fromMs: gap.fromMs,
        toMs: gap.toMs,
        sessionsNotRecorded: gap.sessionsNotRecorded,
      },
      'recording resumed; the gap is reported to the collector',
    );
  }

  bufferBytesChanged(bytes: number): void {
    this.bufferBytes.set({}, bytes);
  }

  batchSpooled(): void {
    this.batchesSpooled.inc();
    this.recovered('spool', 'spool append works again');
  }

  /** `spool.append` refused the batch: the spool is at `maxBytes`. Logged once per streak. */
  spoolFull(stats: { bytes: number; batches: number }): void {
    this.publishErrors.inc({ stage: 'spool' });
    this.once('spool', () =>
      this.log.error(
        { spoolBytes: stats.bytes, spoolBatches: stats.batches },
        'spool full: batches wait in memory until JetStream acknowledges older ones',
      ),
    );
  }

  stageFailed(stage: PublishStage, err: unknown, fields: Record<string, unknown> = {}): void {
    this.publishErrors.inc({ stage });
    this.once(stage, () =>
      this.log.error({ ...fields, stage, err: describeError(err) }, `${stage} failed; retrying`),
    );
  }

  batchPublished(events: number): void {
    this.batchesPublished.inc();
    this.eventsPublished.inc({}, events);
    this.recovered('publish', 'publishing works again');
  }

  /** A batch from an earlier run did not decode; it was published anyway (the collector dead-letters it). */
  undecodableBatchPublished(batchSeq: number, err: unknown): void {
    this.log.warn(
      { batchSeq, err: describeError(err) },
      'published a spooled batch that does not decode',
    );
  }

  journalWritten(): void {
    this.recovered('journal', 'open-sessions journal written again');
  }

  natsConnected(server: string): void {
    this.natsConnectedGauge.set({}, 1);
    this.recovered('connect', 'NATS reachable again');
    this.log.info({ server }, 'connected to NATS');
  }

  natsDisconnected(server: string): void {
    this.natsConnectedGauge.set({}, 0);
    this.log.warn({ server }, 'disconnected from NATS; events spool until it is back');
  }

  sessionsRecovered(count: number, file: string): void {
    this.log.warn({ sessions: count, file }, 'ended sessions left open by a crash (agent_restart)');
  }

  journalUnreadable(file: string, err: unknown, movedTo: string): void {
    this.publishErrors.inc({ stage: 'journal' });
    this.log.error({ file, movedTo, err: describeError(err) }, 'open-sessions journal unreadable');
  }

  spoolOpened(fields: {
    kind: string;
    dir: string;
    pending: number;
    lastBatchSeq: number;
    skippedRecords: number;
  }): void {
    const level = fields.skippedRecords > 0 ? 'warn' : 'info';
    this.log[level](fields, 'spool opened');
  }

  private once(key: string, write: () => void): void {
    if (this.failing.has(key)) return;
    this.failing.add(key);
    write();
  }

  private recovered(key: string, message: string): void {
    if (!this.failing.delete(key)) return;
    this.log.info({ stage: key }, message);
  }
}

/** What a session tells about itself when it ends (the recorder's `Session`). */
export interface EndedSession {
  readonly sessionId: string;
  readonly startedAtMs: number;
  readonly bytesTx: number;
  readonly bytesRx: number;
}

/**
 * The lifecycle events every session of one resource goes through (see
 * `Telemetry.resource`). Called per session, so each metric series is looked up once
 * and the debug line is only built when debug is on.
 */
export class ResourceTelemetry {
  private readonly started: CounterSeries;
  private readonly open: GaugeSeries;
  private readonly tx: CounterSeries;
  private readonly rx: CounterSeries;
  /** `sessions_ended_total` series by close reason, made on first use. */
  private readonly ended: (CounterSeries | undefined)[] = [];
  private readonly endedCounter: Counter;

  constructor(
    readonly resourceId: string,
    private readonly log: Logger,
    metrics: {
      sessionsStarted: Counter;
      sessionsEnded: Counter;
      sessionsOpen: Gauge;
      bytes: Counter;
    },
  ) {
    this.started = metrics.sessionsStarted.labels({ resource: resourceId });
    this.open = metrics.sessionsOpen.labels({ resource: resourceId });
    this.tx = metrics.bytes.labels({ resource: resourceId, direction: 'tx' });
    this.rx = metrics.bytes.labels({ resource: resourceId, direction: 'rx' });
    this.endedCounter = metrics.sessionsEnded;
  }

  sessionStarted(): void {
    this.started.inc();
    this.open.inc();
  }

  /** Counted as they flow (on each update tick and at the end), never per packet. */
  bytesProxied(tx: number, rx: number): void {
    if (tx > 0) this.tx.inc(tx);
    if (rx > 0) this.rx.inc(rx);
  }

  sessionEnded(session: EndedSession, reason: CloseReason, error: string, endedAtMs: number): void {
    const series = (this.ended[reason] ??= this.endedCounter.labels({
      resource: this.resourceId,
      reason: closeReasonName(reason),
    }));
    series.inc();
    this.open.dec();
    if (!this.log.isLevelEnabled('debug')) return;
    this.log.debug(
      {
        sessionId: session.sessionId,
        resource: this.resourceId,
        reason: closeReasonName(reason),
        durationMs: endedAtMs - session.startedAtMs,
        bytesTx: session.bytesTx,
        bytesRx: session.bytesRx,
        error: error === '' ? undefined : error,
      },
      'session ended',
    );
  }
}
