/**
 * The `SessionPayload`s of the two engines: what each keeps of a batch's rows until its
 * INSERT. The embedded engine keeps RowBinary chunks (or JSONCompactEachRow text when
 * it cannot stage files); the HTTP client keeps the rows, as its client serializes them.
 */
import { CollectorError } from '../errors.js';
import { type StoredSessionRow, sessionRowsForInsert, toSessionsCompact } from './rows.js';
import { ByteWriter } from './byte_writer.js';
import { writeSessionRows } from './row_binary.js';
import type { SessionPayload, SessionRow } from './store.js';

/**
 * The payload's first buffer; it doubles as rows arrive (a batch of 100,000 rows, the
 * default, is ~15 MB), so a batch costs a few buffers, not one per NATS message.
 */
const INITIAL_BYTES = 256 * 1024;

/**
 * RowBinary rows in one growing buffer. Rows come either as objects (`append`) or
 * written by the ingest path's wire reader straight into `writer` (then `wrote`).
 */
export class RowBinaryPayload implements SessionPayload {
  readonly writer = new ByteWriter(INITIAL_BYTES);
  rowCount = 0;

  append(rows: readonly SessionRow[]): void {
    if (rows.length === 0) return;
    writeSessionRows(this.writer, rows);
    this.rowCount += rows.length;
  }

  /** Count `rows` rows someone wrote into `writer` directly. */
  wrote(rows: number): void {
    this.rowCount += rows;
  }

  get chunks(): readonly Buffer[] {
    return this.rowCount === 0 ? [] : [this.writer.done()];
  }
}

/** JSONCompactEachRow text, one chunk per `append`. */
export class CompactTextPayload implements SessionPayload {
  readonly chunks: string[] = [];
  rowCount = 0;

  append(rows: readonly SessionRow[]): void {
    if (rows.length === 0) return;
    this.chunks.push(toSessionsCompact(rows));
    this.rowCount += rows.length;
  }
}

/** The rows as stored (`status` left out). */
export class RowsPayload implements SessionPayload {
  readonly rows: StoredSessionRow[] = [];

  get rowCount(): number {
    return this.rows.length;
  }

  append(rows: readonly SessionRow[]): void {
    for (const row of sessionRowsForInsert(rows)) this.rows.push(row);
  }
}

/** A payload another store made cannot be inserted here: its encoding differs. */
export function foreignPayload(engine: string): CollectorError {
  return new CollectorError(
    'STORE_INSERT',
    `insertSessionPayload: the payload was not made by this ${engine} store's newSessionPayload()`,
  );
}
