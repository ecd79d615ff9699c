/**
 * The spool holds encoded batches between the recorder and JetStream: a batch is
 * appended before it is published and removed only after JetStream acknowledged it,
 * so an outage of the link or of NATS loses nothing.
 */

/** One encoded `SessionEventBatch` and its per-agent sequence (its `Nats-Msg-Id`). */
export interface SpooledBatch {
  batchSeq: number;
  payload: Uint8Array;
}

export interface SpoolStats {
  /** Bytes of unacknowledged batches held. */
  bytes: number;
  /** Unacknowledged batches held. */
  batches: number;
  /** Segment files on disk (0 for the memory spool). */
  segments: number;
}

export interface SpoolOpenResult {
  /** Highest batch sequence ever appended (0 for a new spool): the next is this + 1. */
  lastBatchSeq: number;
  /** Unacknowledged batches found (replayed by the publisher, in order). */
  pending: number;
  /** Torn or corrupt records skipped while recovering. */
  skippedRecords: number;
}

export interface Spool {
  open(): Promise<SpoolOpenResult>;
  /**
   * Append one batch (sequences strictly increasing). Resolves `false` without storing
   * it when the spool is at `maxBytes`: the caller applies the spool-full policy.
   */
  append(batch: SpooledBatch): Promise<boolean>;
  /** Up to `max` unacknowledged batches with `batchSeq > afterSeq`, in order. */
  readPending(afterSeq: number, max: number): Promise<SpooledBatch[]>;
  /** JetStream acknowledged this batch; its space may be reclaimed. Order-independent. */
  ack(batchSeq: number): Promise<void>;
  stats(): SpoolStats;
  /** Flush and close. Idempotent. */
  close(): Promise<void>;
}
