import type { Logger } from 'pino';
import type { SessionRow } from '../store/store.js';
import type { LiveEvents } from './live/hub.js';
import { sessionRowToItem } from './live/item.js';

/**
 * The service log: one pino line per stored session version (`msg: "network_log"`),
 * for operators who ship the collector's stdout to a log pipeline instead of (or as
 * well as) querying ClickHouse. Off by default: at ingest rates it is a lot of lines.
 *
 * The fields are the API item's, each a string, number or null at the top level;
 * nothing from the row is spread unchecked, so a value can never become a nested
 * object or override pino's own keys (`level`, `time`, `msg`). `error` is the
 * session's short error text, not an Error object, so it is logged as `session_error`
 * to keep pino's `err` conventions unambiguous.
 */

/** Field names of a service log line (besides pino's own). */
export const SERVICE_LOG_FIELDS = [
  'org_id',
  'site_id',
  'agent_id',
  'resource_id',
  'session_id',
  'protocol',
  'client_id',
  'user_id',
  'source_addr',
  'dest_addr',
  'dest_host',
  'started_at',
  'ended_at',
  'duration_ms',
  'bytes_tx',
  'bytes_rx',
  'packets_tx',
  'packets_rx',
  'status',
  'close_reason',
  'session_error',
  'version',
] as const;

export type ServiceLogLine = Record<(typeof SERVICE_LOG_FIELDS)[number], string | number | null>;

export function serviceLogFields(row: SessionRow, insertedAtMs: number): ServiceLogLine {
  const item = sessionRowToItem(row, insertedAtMs);
  const line = {} as ServiceLogLine;
  for (const field of SERVICE_LOG_FIELDS) {
    line[field] = (field === 'session_error' ? item.error : item[field]) ?? null;
  }
  return line;
}

/** Log every stored row until the returned function is called. */
export function attachServiceLog(events: LiveEvents, log: Logger): () => void {
  return events.onRowsStored((rows) => {
    const at = Date.now();
    for (const row of rows) log.info(serviceLogFields(row, at), 'network_log');
  });
}
