import {
  EventKind,
  encodeBatchOfEncoded,
  encodeSessionEvent,
  type RecordingGap,
  type SessionEvent,
} from '@connlog/proto';
import { journalEvent, type JournalEvent } from '../session/journal.js';
import type { GapReason } from '../telemetry.js';

/** Fields stamped on every batch. */
export interface BatchHeader {
  agentId: string;
  orgId: string;
  siteId: string;
  agentVersion: string;
}

/** A closed, encoded batch on its way to the spool. */
export interface ClosedBatch {
  batchSeq: number;
  payload: Uint8Array;
  events: number;
  /**
   * Every event of this batch, in order (a session's later event supersedes its
   * earlier ones; an `END` when it ended here), so the open-sessions journal can follow
   * exactly what reached the spool. A list, not a map: no lookup per event here.
   */
  journal: JournalEvent[];
}

export interface BatcherOptions {
  header: BatchHeader;
  /** The last batch sequence already used (from the spool); the next batch is +1. */
  lastBatchSeq: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
  flushIntervalMs: number;
  /** Bound of encoded bytes held: the open batch plus closed batches not yet released. */
  maxBufferBytes: number;
  /** Receives each closed batch; must not block (queue it). */
  onBatch: (batch: ClosedBatch) => void;
  /** Why the bound was hit, for the gap (the spool refused appends, or is just slow). */
  gapReason: () => GapReason;
  onGapStarted?: (reason: GapReason, bufferedBytes: number) => void;
  onGapEnded?: (gap: RecordingGap) => void;
  onBufferChanged?: (bytes: number) => void;
  now?: () => number;
}

/** Field tag + length prefix of an embedded event, and the batch's own header. */
const EVENT_FRAMING = 4;
const HEADER_BYTES = 200;

/**
 * Collects events into batches, synchronously, so the proxy never waits on the logging
 * path. A batch closes at `maxBatchEvents`, before `maxBatchBytes`, or `flushIntervalMs`
 * after its first event. Memory is bounded by `maxBufferBytes` (encoded bytes of the
 * open batch plus closed batches the spool has not taken yet). Policy when it is hit:
 * new sessions are not recorded (`admitSession()` says no; they are counted into a
 * `RecordingGap` sent once the buffer is below half the bound), `UPDATE`s of recorded
 * sessions are skipped (their `END` carries the cumulative totals), and `END`s are
 * always taken — there is at most one per recorded session, so that overshoot is bounded.
 */
export class Batcher {
  private readonly opts: BatcherOptions;
  private readonly now: () => number;
  private nextSeq: number;
  /** The open batch's events, each encoded once: for its size and for the batch. */
  private events: Uint8Array[] = [];
  private journal: JournalEvent[] = [];
  private gaps: RecordingGap[] = [];
  private openBytes = HEADER_BYTES;
  private closedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private gap: { fromMs: number; count: number; reason: GapReason } | undefined;
  private closed = false;

  constructor(options: BatcherOptions) {
    this.opts = options;
    this.now = options.now ?? Date.now;
    this.nextSeq = options.lastBatchSeq + 1;
  }

  /** Encoded bytes held in memory (open batch + closed batches not yet released). */
  get bufferedBytes(): number {
    return this.closedBytes + (this.events.length > 0 || this.gaps.length > 0 ? this.openBytes : 0);
  }

  /** True while new sessions are not being recorded. */
  get inGap(): boolean {
    return this.gap !== undefined;
  }

  /**
   * May a new session be recorded? When not, it is counted into the current gap; the
   * caller proxies it anyway.
   */
  admitSession(): boolean {
    if (this.gap === undefined && this.bufferedBytes < this.opts.maxBufferBytes) return true;
    if (this.gap === undefined) {
      this.gap = { fromMs: this.now(), count: 0, reason: this.opts.gapReason() };
      this.opts.onGapStarted?.(this.gap.reason, this.bufferedBytes);
    }
    this.gap.count += 1;
    return false;
  }

  /**
   * Start a gap if the buffer is at its bound: for events admitted elsewhere (worker
   * processes admit their sessions themselves and learn of the gap from this).
   */
  checkBound(): void {
    if (this.gap !== undefined || this.closed || this.bufferedBytes < this.opts.maxBufferBytes) {
      return;
    }
    this.gap = { fromMs: this.now(), count: 0, reason: this.opts.gapReason() };
    this.opts.onGapStarted?.(this.gap.reason, this.bufferedBytes);
  }

  /**
   * Sessions proxied by a worker process without being recorded (it saw this batcher
   * in a gap): counted into the gap going on, or reported as a gap of their own when
   * it has just ended.
   */
  addNotRecorded(count: number): void {
    if (this.closed || count <= 0) return;
    if (this.gap !== undefined) {
      this.gap.count += count;
      return;
    }
    const now = this.now();
    const gap: RecordingGap = {
      fromMs: now,
      toMs: now,
      sessionsNotRecorded: count,
      reason: this.opts.gapReason(),
    };
    this.gaps.push(gap);
    this.opts.onGapEnded?.(gap);
    this.afterAdd();
  }

  /**
   * Add one event. `UPDATE`s are refused (false) while the buffer is at its bound; other
   * events are always taken.
   */
  add(event: SessionEvent): boolean {
    if (this.closed) return false;
    if (event.kind === EventKind.UPDATE && this.bufferedBytes >= this.opts.maxBufferBytes) {
      return false;
    }
    const encoded = encodeSessionEvent(event);
    const size = encoded.length + EVENT_FRAMING;
    if (
      this.events.length > 0 &&
      (this.openBytes + size > this.opts.maxBatchBytes ||
        this.events.length >= this.opts.maxBatchEvents)
    ) {
      this.flush();
    }
    this.events.push(encoded);
    this.journal.push(journalEvent(event, encoded));
    this.openBytes += size;
    this.afterAdd();
    if (this.events.length >= this.opts.maxBatchEvents) this.flush();
    return true;
  }

  /** The spool took a batch: its bytes no longer count against the bound. */
  release(batch: ClosedBatch): void {
    this.closedBytes = Math.max(0, this.closedBytes - batch.payload.length);
    this.opts.onBufferChanged?.(this.bufferedBytes);
    this.maybeEndGap();
  }

  /** Close the open batch now (if it holds anything). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.events.length === 0 && this.gaps.length === 0) return;
    const batchSeq = this.nextSeq;
    this.nextSeq += 1;
    const payload = encodeBatchOfEncoded(
      { ...this.opts.header, batchSeq, sentAtMs: this.now(), gaps: this.gaps },
      this.events,
    );
    const batch: ClosedBatch = {
      batchSeq,
      payload,
      events: this.events.length,
      journal: this.journal,
    };
    this.events = [];
    this.gaps = [];
    this.journal = [];
    this.openBytes = HEADER_BYTES;
    this.closedBytes += payload.length;
    this.opts.onBufferChanged?.(this.bufferedBytes);
    this.opts.onBatch(batch);
  }

  /**
   * Stop: close the open batch, report an ongoing gap, refuse further events. The
   * caller then waits for the spool to take what was handed over.
   */
  close(): void {
    if (this.closed) return;
    if (this.gap) this.endGap();
    this.flush();
    this.closed = true;
  }

  private afterAdd(): void {
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.opts.flushIntervalMs);
      this.timer.unref();
    }
  }

  private maybeEndGap(): void {
    if (this.gap === undefined || this.bufferedBytes > this.opts.maxBufferBytes / 2) return;
    this.endGap();
  }

  private endGap(): void {
    const current = this.gap;
    if (current === undefined) return;
    this.gap = undefined;
    const gap: RecordingGap = {
      fromMs: current.fromMs,
      toMs: this.now(),
      sessionsNotRecorded: current.count,
      reason: current.reason,
    };
    this.gaps.push(gap);
    this.opts.onGapEnded?.(gap);
    this.afterAdd();
  }
}
