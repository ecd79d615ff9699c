import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';

/**
 * The API's lifecycle events, each a log line and a metric together. Labels come
 * from closed sets: route names are constants of the route table (`unmatched` for
 * everything else), statuses are the few codes the API emits, outcomes are listed.
 */

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type SqlOutcome = 'ok' | 'refused' | 'failed' | 'aborted';

export interface ApiTelemetry {
  requestFinished(route: string, method: string, status: number, seconds: number): void;
  /** A 5xx: something the operator may need to look at. */
  requestFailed(route: string, err: unknown): void;
  sqlStatement(
    outcome: SqlOutcome,
    details: { keyword?: string; code?: number; chars: number },
  ): void;
  exportFinished(details: { org: string; rows: number; aborted: boolean; seconds: number }): void;
}

export function createApiTelemetry(metrics: Registry, log: Logger): ApiTelemetry {
  const requests = metrics.counter(
    'connlog_collector_http_requests_total',
    'HTTP API requests by route and status code',
    ['route', 'status'],
  );
  const latency = metrics.histogram(
    'connlog_collector_http_request_duration_seconds',
    'HTTP API request duration (to the last byte of the response), by route',
    LATENCY_BUCKETS,
    ['route'],
  );
  const sql = metrics.counter(
    'connlog_collector_sql_statements_total',
    'SQL endpoint statements by outcome (ok, refused by the read-only check, failed in the engine, aborted by the client)',
    ['outcome'],
  );
  const exportRows = metrics.counter(
    'connlog_collector_export_rows_total',
    'Rows written by CSV exports',
  );
  const exports = metrics.counter(
    'connlog_collector_exports_total',
    'CSV exports by outcome (completed, aborted)',
    ['outcome'],
  );

  return {
    requestFinished(route, method, status, seconds) {
      requests.inc({ route, status: String(status) });
      latency.observe(seconds, { route });
      log.debug({ route, method, status, ms: Math.round(seconds * 1000) }, 'http request');
    },
    requestFailed(route, err) {
      log.error({ route, err }, 'http request failed');
    },
    sqlStatement(outcome, details) {
      sql.inc({ outcome });
      // The statement text is not logged: analysts' queries may hold names they
      // consider sensitive. Its size and first keyword are enough to correlate.
      const fields = { outcome, ...details };
      if (outcome === 'failed') log.info(fields, 'sql statement failed');
      else log.debug(fields, 'sql statement');
    },
    exportFinished(details) {
      exportRows.inc({}, details.rows);
      exports.inc({ outcome: details.aborted ? 'aborted' : 'completed' });
      log.info(
        {
          org: details.org,
          rows: details.rows,
          aborted: details.aborted,
          ms: Math.round(details.seconds * 1000),
        },
        details.aborted ? 'csv export aborted by the client' : 'csv export finished',
      );
    },
  };
}
