import type { OpenSessionsJournal } from '../session/journal.js';
import type { Spool } from '../spool/spool.js';
import type { Telemetry } from '../telemetry.js';
import { backoffDelay, sleep } from './backoff.js';
import type { ClosedBatch } from './batcher.js';
import { Wake } from './wake.js';

export interface SpoolerOptions {
  spool: Spool;
  journal: OpenSessionsJournal;
  telemetry: Telemetry;
  /** The spool took this batch (its memory may be released, the publisher woken). */
  onSpooled: (batch: ClosedBatch) => void;
}

/**
 * Moves closed batches from memory into the spool, in order, one round at a time:
 * first the open-sessions journal follows the round's events, then each batch is
 * appended (and the sessions it ended are settled in the journal, written when idle). A full spool (`append` → false) or a failing one is retried with backoff
 * and jitter; batches wait in memory meanwhile (the batcher's bound then applies).
 * Nothing handed to `push()` is dropped except by `stop()` on shutdown, which reports
 * what it abandoned.
 */
export class Spooler {
  private readonly queue: ClosedBatch[] = [];
  private readonly wake = new Wake();
  private readonly spaceFreed = new Wake();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private busy = false;
  private idleWaiters: (() => void)[] = [];
  /** The last append was refused because the spool is full. */
  spoolFull = false;

  constructor(private readonly opts: SpoolerOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  push(batch: ClosedBatch): void {
    this.queue.push(batch);
    this.wake.notify();
  }

  /** The publisher acknowledged a batch: a full spool may take more now. */
  notifySpaceFreed(): void {
    this.spaceFreed.notify();
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Resolves when everything pushed so far is in the spool (or the spooler stopped). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop retrying; returns how many batches were still in memory (lost). */
  async stop(): Promise<number> {
    this.abort.abort();
    this.wake.notify();
    this.spaceFreed.notify();
    await this.running;
    const lost = this.queue.length;
    this.queue.length = 0;
    this.settleIdle();
    return lost;
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      if (this.queue.length === 0) {
        // Write the journal without the sessions the last rounds ended, so a clean
        // stop (or a long quiet spell) leaves no END to be sent again at the next start.
        if (this.opts.journal.needsWrite) await this.persistJournal();
        if (this.queue.length > 0) continue;
        this.settleIdle();
        await this.wake.wait(60_000);
        continue;
      }
      this.busy = true;
      const round = this.queue.slice();
      for (const batch of round) this.opts.journal.apply(batch.journal);
      await this.persistJournal();
      for (const batch of round) {
        if (!(await this.append(batch))) return;
        this.queue.shift();
        this.opts.journal.settle(batch.journal);
        this.opts.onSpooled(batch);
      }
      // Still busy: idle() waits for the journal write of the empty-queue branch.
    }
  }

  private settleIdle(): void {
    this.busy = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** A journal that cannot be written only weakens crash recovery: log, count, go on. */
  private async persistJournal(): Promise<void> {
    try {
      await this.opts.journal.persist();
      this.opts.telemetry.journalWritten();
    } catch (err) {
      this.opts.telemetry.stageFailed('journal', err, { file: this.opts.journal.file });
    }
  }

  /** True once appended; false when stopped first. */
  private async append(batch: ClosedBatch): Promise<boolean> {
    const { spool, telemetry } = this.opts;
    const { signal } = this.abort;
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      try {
        if (await spool.append({ batchSeq: batch.batchSeq, payload: batch.payload })) {
          this.spoolFull = false;
          telemetry.batchSpooled();
          return true;
        }
        this.spoolFull = true;
        telemetry.spoolFull(spool.stats());
        // Space comes back when the publisher acks; the timeout re-checks anyway.
        await this.spaceFreed.wait(1000);
      } catch (err) {
        telemetry.stageFailed('spool', err, { batchSeq: batch.batchSeq });
        await sleep(backoffDelay(attempt, 100, 5000), signal);
      }
    }
    return false;
  }
}
