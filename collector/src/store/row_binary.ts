/**
 * Session rows as ClickHouse `RowBinary`, for the embedded engine's insert path
 * (chdb.ts, staging.ts). Why binary: the engine parses JSONCompactEachRow at about
 * 120,000 rows/s on this project's machine and RowBinary at over 500,000 (both into a
 * Null table), and building it here is cheaper than JSON.stringify per row
 * (docs/benchmarks.md).
 *
 * Columns are written in `SESSION_INSERT_COLUMNS` order with the types of
 * `SESSIONS_ROW_BINARY_STRUCTURE`. Text columns the engine parses anyway (`session_id`,
 * `source_ip`, `dest_ip`) travel as their text and are converted by the INSERT, so a
 * value means exactly what it means in the JSON path; `LowCardinality` columns travel
 * as plain `String` (the INSERT converts them too).
 */
import { ByteWriter } from './byte_writer.js';
import { SESSION_INSERT_COLUMNS } from './rows.js';
import type { SessionRow } from './store.js';

type InsertColumn = (typeof SESSION_INSERT_COLUMNS)[number];

/** How each inserted column travels in the RowBinary payload. */
const WIRE_TYPES: Record<InsertColumn, string> = {
  org_id: 'String',
  site_id: 'String',
  agent_id: 'String',
  resource_id: 'String',
  session_id: 'String',
  protocol: 'String',
  client_id: 'String',
  user_id: 'String',
  source_ip: 'String',
  source_port: 'UInt16',
  dest_ip: 'String',
  dest_port: 'UInt16',
  dest_host: 'String',
  started_at: "DateTime64(3, 'UTC')",
  ended_at: "Nullable(DateTime64(3, 'UTC'))",
  duration_ms: 'UInt64',
  bytes_tx: 'UInt64',
  bytes_rx: 'UInt64',
  packets_tx: 'UInt64',
  packets_rx: 'UInt64',
  close_reason: 'String',
  error: 'String',
  retention_days: 'UInt16',
  version: 'UInt64',
};

/** The `structure` argument of `file(path, 'RowBinary', structure)` for these payloads. */
export const SESSIONS_ROW_BINARY_STRUCTURE = SESSION_INSERT_COLUMNS.map(
  (column) => `${column} ${WIRE_TYPES[column]}`,
).join(', ');

/** A row of typical text is ~150 bytes; the writer grows past this when needed. */
const INITIAL_BYTES_PER_ROW = 256;

/** RowBinary payload of session rows (`status` left out: the table derives it). */
export function toSessionsRowBinary(rows: readonly SessionRow[]): Buffer {
  const w = new ByteWriter(rows.length * INITIAL_BYTES_PER_ROW);
  writeSessionRows(w, rows);
  return w.done();
}

/** Append session rows to `w` as RowBinary (what `toSessionsRowBinary` returns). */
export function writeSessionRows(w: ByteWriter, rows: readonly SessionRow[]): void {
  for (const r of rows) {
    w.string(r.org_id);
    w.string(r.site_id);
    w.string(r.agent_id);
    w.string(r.resource_id);
    w.string(r.session_id);
    w.string(r.protocol);
    w.string(r.client_id);
    w.string(r.user_id);
    w.string(r.source_ip);
    w.u16(r.source_port, 'source_port');
    w.string(r.dest_ip);
    w.u16(r.dest_port, 'dest_port');
    w.string(r.dest_host);
    w.u64(r.started_at, 'started_at');
    if (r.ended_at === null) {
      w.u8(1);
    } else {
      w.u8(0);
      w.u64(r.ended_at, 'ended_at');
    }
    w.u64(r.duration_ms, 'duration_ms');
    w.u64(r.bytes_tx, 'bytes_tx');
    w.u64(r.bytes_rx, 'bytes_rx');
    w.u64(r.packets_tx, 'packets_tx');
    w.u64(r.packets_rx, 'packets_rx');
    w.string(r.close_reason);
    w.string(r.error);
    w.u16(r.retention_days, 'retention_days');
    w.u64(r.version, 'version');
  }
}
