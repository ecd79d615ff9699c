import { createHash } from 'node:crypto';
import type { GapRow, SessionRow } from '../store/store.js';

/**
 * Rows waiting for their INSERT, and the messages to ack once it succeeded. Bounded by
 * the caller: it flushes at `maxBatchRows`, and JetStream never has more than
 * `max_ack_pending` messages out, so neither list grows without limit.
 */
export class PendingBatch<M> {
  readonly rows: SessionRow[] = [];
  /** Recording gaps the messages report; inserted with the rows, before the acks. */
  readonly gaps: GapRow[] = [];
  readonly messages: M[] = [];
  /** When the first row arrived (ms, monotonic clock); undefined while empty. */
  firstAt: number | undefined;

  add(message: M, rows: readonly SessionRow[], now: number, gaps: readonly GapRow[] = []): void {
    this.firstAt ??= now;
    this.messages.push(message);
    for (const row of rows) this.rows.push(row);
    for (const gap of gaps) this.gaps.push(gap);
  }

  get empty(): boolean {
    return this.messages.length === 0;
  }
}

/**
 * Insert deduplication token from what the batch holds: the sorted `session_id:version`
 * pairs. A `(session, seq)` pair names one event for good, so a batch with the same
 * pairs is the same data again — whether redelivered by JetStream after a lost ack or
 * republished by an agent — and ClickHouse drops the repeat.
 */
export function dedupToken(rows: readonly SessionRow[]): string {
  const keys = rows.map((row) => `${row.session_id}:${row.version}`).sort();
  const hash = createHash('sha256');
  for (const key of keys) hash.update(`${key}\n`);
  return `connlog-v1-${hash.digest('hex')}`;
}

/** Insert deduplication token of a batch's gap rows (a gap is its agent and start). */
export function gapDedupToken(gaps: readonly GapRow[]): string {
  const keys = gaps.map((gap) => `${gap.agent_id}:${gap.from_at}:${gap.reason}`).sort();
  const hash = createHash('sha256');
  for (const key of keys) hash.update(`${key}\n`);
  return `connlog-gaps-v1-${hash.digest('hex')}`;
}
