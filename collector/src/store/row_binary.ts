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
import { CollectorError } from '../errors.js';
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

const TWO_POW_32 = 4_294_967_296;
/** A row of typical text is ~150 bytes; the writer grows past this when needed. */
const INITIAL_BYTES_PER_ROW = 256;

/** A growable little-endian byte buffer; one per payload. */
class ByteWriter {
  private buf: Buffer;
  offset = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  private ensure(bytes: number): void {
    if (this.offset + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + bytes));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.offset] = value;
    this.offset += 1;
  }

  u16(value: number, column: string): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) notEncodable(column, value);
    this.ensure(2);
    const buf = this.buf;
    const at = this.offset;
    buf[at] = value & 0xff;
    buf[at + 1] = value >>> 8;
    this.offset = at + 2;
  }

  /**
   * UInt64 and Int64 (DateTime64 ticks) of a non-negative safe integer. Bytes are set
   * one by one: Buffer#writeUInt32LE's checks cost more than the write (profiled).
   */
  u64(value: number, column: string): void {
    if (!Number.isSafeInteger(value) || value < 0) notEncodable(column, value);
    this.ensure(8);
    const buf = this.buf;
    const at = this.offset;
    const low = value % TWO_POW_32;
    const high = (value - low) / TWO_POW_32;
    buf[at] = low & 0xff;
    buf[at + 1] = (low >>> 8) & 0xff;
    buf[at + 2] = (low >>> 16) & 0xff;
    buf[at + 3] = low >>> 24;
    buf[at + 4] = high & 0xff;
    buf[at + 5] = (high >>> 8) & 0xff;
    buf[at + 6] = (high >>> 16) & 0xff;
    buf[at + 7] = high >>> 24;
    this.offset = at + 8;
  }

  /** String: LEB128 byte length, then UTF-8. ASCII (nearly all values) is copied inline. */
  string(value: string): void {
    const length = value.length;
    this.ensure(length * 3 + 5);
    const buf = this.buf;
    if (length < 0x80) {
      let at = this.offset + 1;
      let ascii = true;
      for (let i = 0; i < length; i += 1) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) {
          ascii = false;
          break;
        }
        buf[at] = code;
        at += 1;
      }
      if (ascii) {
        buf[this.offset] = length;
        this.offset = at;
        return;
      }
    }
    let bytes = Buffer.byteLength(value, 'utf8');
    while (bytes >= 0x80) {
      buf[this.offset] = (bytes & 0x7f) | 0x80;
      this.offset += 1;
      bytes >>>= 7;
    }
    buf[this.offset] = bytes;
    this.offset += 1;
    this.offset += buf.write(value, this.offset, 'utf8');
  }

  done(): Buffer {
    return this.buf.subarray(0, this.offset);
  }
}

function notEncodable(column: string, value: unknown): never {
  throw new CollectorError(
    'STORE_INSERT',
    `sessions.${column} ${String(value)} does not fit the column (want a non-negative integer in range)`,
  );
}

/** RowBinary payload of session rows (`status` left out: the table derives it). */
export function toSessionsRowBinary(rows: readonly SessionRow[]): Buffer {
  const w = new ByteWriter(rows.length * INITIAL_BYTES_PER_ROW);
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
  return w.done();
}
