/**
 * The `SessionPayload`s of the two engines: what each keeps of a batch's rows until its
 * INSERT. The embedded engine keeps RowBinary chunks (or JSONCompactEachRow text when
 * it cannot stage files); the HTTP client keeps the rows, as its client serializes them.
 */
import { CollectorError } from '../errors.js';
import { type StoredSessionRow, sessionRowsForInsert, toSessionsCompact } from './rows.js';
import { toSessionsRowBinary } from './row_binary.js';
import type { SessionPayload, SessionRow } from './store.js';

/** RowBinary, one chunk per `append` (per NATS message on the ingest path). */
export class RowBinaryPayload implements SessionPayload {
  readonly chunks: Buffer[] = [];
  rowCount = 0;

  append(rows: readonly SessionRow[]): void {
    if (rows.length === 0) return;
    this.chunks.push(toSessionsRowBinary(rows));
    this.rowCount += rows.length;
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
