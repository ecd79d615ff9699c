/** The admin log's lifecycle events: each logs and counts together. Labels are closed sets. */
import { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import type { AdminAction, Outcome } from './actions.js';

export interface AdminLogTelemetry {
  recorded(action: AdminAction, outcome: Outcome): void;
  /** A batch reached ClickHouse. */
  flushed(rows: number, ms: number): void;
  /** A batch insert failed; the rows stay buffered and are retried. */
  flushFailed(rows: number, err: unknown): void;
  /** The buffer was full: the record was refused (its caller got ADMIN_LOG_FULL). */
  refused(action: AdminAction): void;
  /** Records still buffered at close, after the last attempt: lost. */
  lostAtClose(rows: number, err: unknown): void;
}

export function createAdminLogTelemetry(
  log: Logger,
  registry: Registry = new Registry(),
  pending: () => number = () => 0,
): AdminLogTelemetry {
  const recorded = registry.counter(
    'connlog_collector_admin_actions_total',
    'Admin actions recorded, by action and outcome',
    ['action', 'outcome'],
  );
  const failures = registry.counter(
    'connlog_collector_admin_log_insert_failures_total',
    'Failed inserts of admin action batches (rows are kept and retried)',
  );
  const dropped = registry.counter(
    'connlog_collector_admin_log_dropped_total',
    'Admin action records not stored, by reason (buffer_full, close)',
    ['reason'],
  );
  const buffered = registry.gauge(
    'connlog_collector_admin_log_buffered',
    'Admin action records waiting for their INSERT',
  );
  buffered.onCollect(() => buffered.set({}, pending()));
  let fullLogged = false;
  return {
    recorded(action, outcome) {
      recorded.inc({ action, outcome });
    },
    flushed(rows, ms) {
      if (fullLogged) log.info({ rows }, 'admin log accepting records again');
      fullLogged = false;
      log.debug({ rows, ms }, 'admin actions inserted');
    },
    flushFailed(rows, err) {
      failures.inc();
      log.warn({ err, rows }, 'admin action insert failed; will retry');
    },
    refused(action) {
      dropped.inc({ reason: 'buffer_full' });
      // Once per episode: the counter has the total.
      if (!fullLogged) {
        fullLogged = true;
        log.error({ action }, 'admin log buffer full: refusing admin action records');
      }
    },
    lostAtClose(rows, err) {
      dropped.inc({ reason: 'close' }, rows);
      log.error({ err, rows }, 'admin action records lost at close: ClickHouse did not take them');
    },
  };
}
