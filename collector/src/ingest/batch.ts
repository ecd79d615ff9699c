import { createHash } from 'node:crypto';
import type { GapRow, SessionPayload, SessionRow } from '../store/store.js';

/**
 * Rows waiting for their INSERT, and the messages to ack once it succeeded. Bounded by
 * the caller: it flushes at `maxBatchRows`, and JetStream never has more than
 * `max_ack_pending` messages out, so neither list grows without limit.
 *
 * The rows are encoded into the store's payload as each message arrives, and only
 * their dedup keys are kept, so a waiting batch holds a few buffers instead of an
 * object per row (GC was 15-25 % of the collector's CPU under load). The row objects
 * themselves are kept only while `keepRows()` says so (a live-tail listener exists).
 */
export class PendingBatch<M> {
  /** Rows kept for the live tail (see `keepRows`); a subset of the batch's rows. */
  readonly rows: SessionRow[] = [];
  /** `session_id:version` of every row, for the dedup token. */
  readonly keys: string[] = [];
  /** Recording gaps the messages report; inserted with the rows, before the acks. */
  readonly gaps: GapRow[] = [];
  readonly messages: M[] = [];
  /** When the first row arrived (ms, monotonic clock); undefined while empty. */
  firstAt: number | undefined;

  constructor(
    readonly payload: SessionPayload,
    private readonly keepRows: () => boolean = () => true,
  ) {}

  add(message: M, rows: readonly SessionRow[], now: number, gaps: readonly GapRow[] = []): void {
    this.firstAt ??= now;
    this.messages.push(message);
    this.payload.append(rows);
    for (const row of rows) this.keys.push(dedupKey(row));
    if (this.keepRows()) for (const row of rows) this.rows.push(row);
    for (const gap of gaps) this.gaps.push(gap);
  }

  /**
   * Count a message whose rows the wire reader already wrote into the payload and
   * whose keys it pushed onto `keys` (no row objects: only while `keepRows()` is false).
   */
  addEncoded(message: M, now: number): void {
    this.firstAt ??= now;
    this.messages.push(message);
  }

  /** Whether row objects are needed (a live-tail listener); then no message bypasses them. */
  get rowsWanted(): boolean {
    return this.keepRows();
  }

  get rowCount(): number {
    return this.payload.rowCount;
  }

  get empty(): boolean {
    return this.messages.length === 0;
  }
}

function dedupKey(row: SessionRow): string {
  return `${row.session_id}:${String(row.version)}`;
}

/**
 * Insert deduplication token from what the batch holds: the sorted `session_id:version`
 * pairs. A `(session, seq)` pair names one event for good, so a batch with the same
 * pairs is the same data again — whether redelivered by JetStream after a lost ack or
 * republished by an agent — and ClickHouse drops the repeat.
 */
export function dedupToken(rows: readonly SessionRow[]): string {
  return dedupTokenOfKeys(rows.map(dedupKey));
}

/** `dedupToken` of rows whose `session_id:version` keys were collected earlier. */
export function dedupTokenOfKeys(unsorted: readonly string[]): string {
  const keys = [...unsorted].sort();
  // One update of the joined text hashes the same bytes as one update per key
  // (`key\n` each), without 20,000 calls into the hash per batch.
  const text = keys.length === 0 ? '' : `${keys.join('\n')}\n`;
  const hash = createHash('sha256').update(text);
  return `connlog-v1-${hash.digest('hex')}`;
}

/** Insert deduplication token of a batch's gap rows (a gap is its agent and start). */
export function gapDedupToken(gaps: readonly GapRow[]): string {
  const keys = gaps.map((gap) => `${gap.agent_id}:${gap.from_at}:${gap.reason}`).sort();
  const hash = createHash('sha256');
  for (const key of keys) hash.update(`${key}\n`);
  return `connlog-gaps-v1-${hash.digest('hex')}`;
}
