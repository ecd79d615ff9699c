/**
 * One function per lifecycle event of the collector core: each writes its log line
 * and moves its metric together, so they never drift. Labels come from closed sets
 * (reject reasons, drop reasons); traffic-derived values (orgs, subjects) go to logs
 * only, and noisy events are logged at most once per interval with a count.
 */
import type { Logger } from 'pino';
import type { Registry } from '@connlog/metrics';
import type { RecordingGap } from '@connlog/proto';
import type { RejectReason } from './ingest/decode.js';

const INSERT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_ROWS_BUCKETS = [1, 10, 100, 500, 1000, 2500, 5000, 10_000, 20_000, 50_000, 100_000];

/** Why events were acked without being stored. */
export type DropReason = 'retention_zero';

/** Logs an event at most once per `intervalMs`, counting the ones it held back. */
function throttled(intervalMs: number): (emit: (suppressed: number) => void) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (emit) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed += 1;
      return;
    }
    last = now;
    emit(suppressed);
    suppressed = 0;
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createTelemetry(log: Logger, metrics: Registry) {
  const batchesReceived = metrics.counter(
    'connlog_collector_batches_received_total',
    'NATS messages (event batches) received from the sessions stream, valid or not',
  );
  const eventsReceived = metrics.counter(
    'connlog_collector_events_received_total',
    'Session events in valid batches',
  );
  const rowsInserted = metrics.counter(
    'connlog_collector_rows_inserted_total',
    'Rows ClickHouse accepted into connlog.sessions',
  );
  const insertErrors = metrics.counter(
    'connlog_collector_insert_errors_total',
    'INSERTs ClickHouse refused or that failed; their messages are redelivered',
  );
  const insertSeconds = metrics.histogram(
    'connlog_collector_insert_seconds',
    'Duration of one INSERT of a batch',
    INSERT_SECONDS_BUCKETS,
  );
  const insertBatchRows = metrics.histogram(
    'connlog_collector_insert_batch_rows',
    'Rows per INSERT',
    BATCH_ROWS_BUCKETS,
  );
  const deadLetters = metrics.counter(
    'connlog_collector_dead_letter_total',
    'Batches rejected and moved to the dead-letter stream, by reason',
    ['reason'],
  );
  const deadLetterErrors = metrics.counter(
    'connlog_collector_dead_letter_errors_total',
    'Rejected batches that could not be published to the dead-letter stream (redelivered later)',
  );
  const eventsDropped = metrics.counter(
    'connlog_collector_events_dropped_total',
    'Valid events acked without being stored, by reason (retention_zero: the org stores nothing)',
    ['reason'],
  );
  const gapSessions = metrics.counter(
    'connlog_collector_gap_sessions_total',
    'Sessions agents reported they could not record (recording gaps)',
  );
  const consumerPending = metrics.gauge(
    'connlog_collector_consumer_pending',
    'Messages in the stream not yet delivered to the durable consumer (lag)',
  );
  const consumerAckPending = metrics.gauge(
    'connlog_collector_consumer_ack_pending',
    'Messages delivered to the durable consumer and not acked yet (all collectors)',
  );
  const natsConnected = metrics.gauge(
    'connlog_collector_nats_connected',
    '1 while connected to NATS',
  );
  const rejectLog = throttled(10_000);
  const dropLog = throttled(60_000);

  return {
    started(details: { store: string; stream: string; consumer: string; http: string }): void {
      log.info(details, 'collector started');
    },

    stopped(): void {
      log.info('collector stopped');
    },

    natsStatus(connected: boolean, server: string): void {
      natsConnected.set({}, connected ? 1 : 0);
      if (connected) log.info({ server }, 'connected to NATS');
      else log.warn({ server }, 'disconnected from NATS; reconnecting');
    },

    streamReady(
      kind: 'sessions' | 'dead_letter' | 'consumer',
      name: string,
      action: 'created' | 'updated' | 'unchanged',
    ): void {
      log.info({ kind, name, action }, 'jetstream setup');
    },

    streamSetupMismatch(name: string, err: unknown): void {
      log.warn(
        { name, err },
        'jetstream config differs from ours and could not be updated; using it as is',
      );
    },

    batchReceived(events: number): void {
      batchesReceived.inc();
      eventsReceived.inc({}, events);
    },

    /** A batch went to the dead-letter stream. */
    batchRejected(
      reason: RejectReason,
      details: { subject: string; seq: number; message: string },
    ): void {
      batchesReceived.inc();
      deadLetters.inc({ reason });
      rejectLog((suppressed) =>
        log.warn({ reason, ...details, suppressed }, 'batch rejected, moved to dead letter'),
      );
    },

    deadLetterFailed(reason: RejectReason, err: unknown): void {
      deadLetterErrors.inc();
      log.error(
        { reason, err },
        'cannot publish to the dead-letter stream; the batch will be redelivered',
      );
    },

    eventsDropped(reason: DropReason, org: string, events: number): void {
      eventsDropped.inc({ reason }, events);
      dropLog((suppressed) =>
        log.info({ reason, org, events, suppressed }, 'events acked without storing'),
      );
    },

    gapReported(details: { org: string; site: string; agentId: string }, gap: RecordingGap): void {
      gapSessions.inc({}, gap.sessionsNotRecorded);
      log.warn(
        {
          ...details,
          fromMs: gap.fromMs,
          toMs: gap.toMs,
          sessionsNotRecorded: gap.sessionsNotRecorded,
          gapReason: gap.reason,
        },
        'agent reports sessions it could not record',
      );
    },

    inserted(rows: number, seconds: number): void {
      rowsInserted.inc({}, rows);
      insertSeconds.observe(seconds);
      insertBatchRows.observe(rows);
      log.debug({ rows, seconds }, 'batch inserted');
    },

    insertFailed(rows: number, messages: number, retryInMs: number, err: unknown): void {
      insertErrors.inc();
      log.error(
        { rows, messages, retryInMs, err: errorText(err) },
        'insert failed; messages will be redelivered',
      );
    },

    consumerLag(pending: number, ackPending: number): void {
      consumerPending.set({}, pending);
      consumerAckPending.set({}, ackPending);
    },

    consumerInfoFailed(err: unknown): void {
      log.debug({ err: errorText(err) }, 'consumer info unavailable');
    },

    listenerFailed(err: unknown): void {
      log.error({ err }, 'rows-stored listener threw');
    },
  };
}

export type Telemetry = ReturnType<typeof createTelemetry>;
