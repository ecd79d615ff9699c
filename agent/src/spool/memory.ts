import type { Spool, SpoolOpenResult, SpoolStats, SpooledBatch } from './spool.js';

export interface MemorySpoolOptions {
  /** Bound of unacknowledged bytes held; `append` resolves false beyond it. */
  maxBytes: number;
}

/**
 * A bounded spool in memory: the same contract as the disk spool, but its content is
 * lost when the process exits. Used by tests and where no writable disk exists.
 */
export class MemorySpool implements Spool {
  private readonly batches = new Map<number, Uint8Array>();
  private bytes = 0;
  private lastBatchSeq = 0;
  private closed = false;

  constructor(private readonly options: MemorySpoolOptions) {}

  open(): Promise<SpoolOpenResult> {
    this.closed = false;
    return Promise.resolve({
      lastBatchSeq: this.lastBatchSeq,
      pending: this.batches.size,
      skippedRecords: 0,
    });
  }

  append(batch: SpooledBatch): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    if (batch.batchSeq <= this.lastBatchSeq) {
      return Promise.reject(
        new RangeError(`batchSeq ${batch.batchSeq} is not above the last (${this.lastBatchSeq})`),
      );
    }
    if (this.bytes + batch.payload.length > this.options.maxBytes) return Promise.resolve(false);
    this.batches.set(batch.batchSeq, batch.payload);
    this.bytes += batch.payload.length;
    this.lastBatchSeq = batch.batchSeq;
    return Promise.resolve(true);
  }

  readPending(afterSeq: number, max: number): Promise<SpooledBatch[]> {
    const out: SpooledBatch[] = [];
    // Map iteration follows insertion order, which is batchSeq order.
    for (const [batchSeq, payload] of this.batches) {
      if (out.length >= max) break;
      if (batchSeq > afterSeq) out.push({ batchSeq, payload });
    }
    return Promise.resolve(out);
  }

  ack(batchSeq: number): Promise<void> {
    const payload = this.batches.get(batchSeq);
    if (payload !== undefined) {
      this.batches.delete(batchSeq);
      this.bytes -= payload.length;
    }
    return Promise.resolve();
  }

  stats(): SpoolStats {
    return { bytes: this.bytes, batches: this.batches.size, segments: 0 };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
