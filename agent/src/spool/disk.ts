/**
 * The disk spool: append-only segment files of CRC-checked records, an in-memory
 * index of where each record sits, and two small state files (see `state.ts`).
 * Layout, fsync modes and loss windows: docs/spool.md.
 */
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolError, errnoCode } from './errors.js';
import { SpoolEvents, type DiskSpoolCounters } from './events.js';
import { readFully, readJsonFile, syncDir, writeFileAtomic, writeFully } from './files.js';
import {
  resolveSpoolOptions,
  type DiskSpoolOptions,
  type ResolvedSpoolOptions,
} from './options.js';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES, encodeHeader, recordAt } from './record.js';
import { pickPending, readRuns, segmentOf } from './read_plan.js';
import { recoverSegments } from './recover.js';
import { SegmentIndex, segmentFileName } from './segment.js';
import type { Spool, SpoolOpenResult, SpoolStats, SpooledBatch } from './spool.js';
import {
  ACKS_FILE,
  META_FILE,
  NO_ACKS,
  SEQ_RESERVATION,
  ackStateOf,
  formatAcks,
  formatMeta,
  isAcked,
  parseAcks,
  parseMeta,
} from './state.js';

type Phase = 'new' | 'opening' | 'open' | 'closing' | 'closed';

interface ActiveSegment {
  index: SegmentIndex;
  fh: FileHandle;
}

export class DiskSpool implements Spool {
  private readonly options: ResolvedSpoolOptions;
  private readonly events: SpoolEvents;
  private phase: Phase = 'new';
  private opening: Promise<SpoolOpenResult> | undefined;
  private closing: Promise<void> | undefined;
  /** Segments holding at least one unacknowledged record, plus the active one; seq order. */
  private segments: SegmentIndex[] = [];
  private active: ActiveSegment | undefined;
  /** Rolled segments still open until the next interval fsync covers them. */
  private retired: ActiveSegment[] = [];
  /** Appends run one at a time, in call order: this is the end of that queue. */
  private tail: Promise<unknown> = Promise.resolve();
  private lastBatchSeq = 0;
  private reservedThrough = 0;
  private reserving: Promise<void> | undefined;
  private unackedBytes = 0;
  private unackedBatches = 0;
  private full = false;
  private refusedWhileFull = 0;
  private dirty = false;
  private dirDirty = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private ackDirty = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private ackWriting: Promise<void> | undefined;

  /** @throws SpoolError `SPOOL_OPTION_INVALID` naming the bad option. */
  constructor(options: DiskSpoolOptions) {
    this.options = resolveSpoolOptions(options);
    this.events = new SpoolEvents(options.log);
  }

  /**
   * Recover the segments in `dir` (created if missing). Torn or corrupt records are
   * skipped and counted, never fatal; only an unusable directory makes this reject.
   */
  open(): Promise<SpoolOpenResult> {
    if (this.phase !== 'new') {
      return Promise.reject(
        new SpoolError('SPOOL_ALREADY_OPEN', 'spool.open() may be called once'),
      );
    }
    this.phase = 'opening';
    this.opening = this.recover().then(
      (result) => {
        this.phase = 'open';
        return result;
      },
      (err: unknown) => {
        this.phase = 'new';
        this.segments = [];
        this.unackedBytes = 0;
        this.unackedBatches = 0;
        if (err instanceof SpoolError) throw err;
        throw new SpoolError('SPOOL_IO', `could not open the spool in ${this.options.dir}`, {
          cause: err,
        });
      },
    );
    return this.opening;
  }

  /**
   * Store one batch. Resolves `true` once it is written (and fsynced under `always`),
   * `false` without storing it when it would take the unacknowledged bytes above
   * `maxBytes` or the disk is full. `payload` must not change until this resolves.
   * @throws SpoolError `SPOOL_SEQ_ORDER` when `batchSeq` is not above every earlier one,
   *   `SPOOL_BATCH_INVALID`, `SPOOL_IO` on any other write failure.
   */
  append(batch: SpooledBatch): Promise<boolean> {
    const refused = this.refuse('append', ['open']);
    if (refused) return Promise.reject(refused);
    const { batchSeq, payload } = batch;
    if (!Number.isSafeInteger(batchSeq) || batchSeq < 1) {
      return Promise.reject(
        new SpoolError(
          'SPOOL_BATCH_INVALID',
          `batch.batchSeq must be a positive safe integer (got ${String(batchSeq)})`,
        ),
      );
    }
    if (!(payload instanceof Uint8Array) || payload.length > MAX_PAYLOAD_BYTES) {
      return Promise.reject(
        new SpoolError(
          'SPOOL_BATCH_INVALID',
          `batch.payload must be a Uint8Array of at most ${MAX_PAYLOAD_BYTES} bytes`,
        ),
      );
    }
    const run = this.tail.then(() => this.appendNow(batchSeq, payload));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Up to `max` unacknowledged batches with `batchSeq > afterSeq`, in seq order, read
   * from disk. Memory is `max` payloads; a record failing its checksum is dropped
   * (logged, counted) rather than returned.
   */
  async readPending(afterSeq: number, max: number): Promise<SpooledBatch[]> {
    const refused = this.refuse('readPending', ['open', 'closing']);
    if (refused) throw refused;
    if (typeof afterSeq !== 'number' || Number.isNaN(afterSeq)) {
      throw new SpoolError(
        'SPOOL_BATCH_INVALID',
        `afterSeq must be a number (got ${String(afterSeq)})`,
      );
    }
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new SpoolError(
        'SPOOL_BATCH_INVALID',
        `max must be a non-negative integer (got ${String(max)})`,
      );
    }
    const out: SpooledBatch[] = [];
    for (const run of readRuns(pickPending(this.segments, afterSeq, max))) {
      const first = run[0];
      const last = run.at(-1);
      if (!first || !last) continue;
      const { segment } = first;
      const start = segment.offsetAt(first.i);
      const end = segment.offsetAt(last.i) + HEADER_BYTES + segment.lengthAt(last.i);
      const buf = await this.readRange(segment, start, end);
      if (!buf) continue;
      for (const { i } of run) {
        const seq = segment.seqAt(i);
        if (segment.isAcked(i)) continue;
        const record = recordAt(buf, segment.offsetAt(i) - start, seq - 1);
        if (record?.seq === seq && record.length === segment.lengthAt(i)) {
          const at = record.offset + HEADER_BYTES;
          out.push({ batchSeq: seq, payload: buf.subarray(at, at + record.length) });
        } else {
          this.events.corruptRead({ segment: segment.name, batchSeq: seq });
          await this.release(segment, i);
        }
      }
    }
    return out;
  }

  /**
   * JetStream acknowledged this batch. Order-independent and idempotent; unknown seqs
   * and acks after `close()` are ignored (the batch is then simply published again).
   */
  async ack(batchSeq: number): Promise<void> {
    if (this.phase !== 'open' && this.phase !== 'closing') return;
    const segment = segmentOf(this.segments, batchSeq);
    if (!segment) return;
    const i = segment.find(batchSeq);
    if (i < 0 || segment.isAcked(i)) return;
    this.events.acked();
    this.scheduleAckWrite();
    await this.release(segment, i);
  }

  stats(): SpoolStats {
    return {
      bytes: this.unackedBytes,
      batches: this.unackedBatches,
      segments: this.segments.length,
    };
  }

  /** Totals since construction, for metrics. */
  counters(): DiskSpoolCounters {
    return { ...this.events.counters };
  }

  /**
   * Finish queued appends, fsync (unless `never`), close the files and write the state
   * files. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  // --- recovery -------------------------------------------------------------------

  private async recover(): Promise<SpoolOpenResult> {
    const { dir } = this.options;
    await mkdir(dir, { recursive: true });
    const meta = await this.readState(
      META_FILE,
      parseMeta,
      'next batch seq taken from the segments',
    );
    const acks =
      (await this.readState(ACKS_FILE, parseAcks, 'acknowledged batches are published again')) ??
      NO_ACKS;
    const found = await recoverSegments(dir, (seq) => isAcked(acks, seq), this.events);
    this.segments = found.segments;
    for (const segment of this.segments) {
      this.unackedBytes += segment.unackedBytes;
      this.unackedBatches += segment.count - segment.ackedCount;
    }
    // Any of the three may be the highest after a crash; none may be undercut.
    this.lastBatchSeq = Math.max(meta?.reservedThrough ?? 0, found.lastSeq, acks.ackedThrough);
    await this.reserve(this.lastBatchSeq + SEQ_RESERVATION);
    const result = {
      lastBatchSeq: this.lastBatchSeq,
      pending: this.unackedBatches,
      skippedRecords: found.skippedRecords,
    };
    this.events.opened({
      dir,
      ...result,
      bytes: this.unackedBytes,
      segments: this.segments.length,
    });
    return result;
  }

  private async readState<T>(
    file: string,
    parse: (raw: unknown) => T | undefined,
    consequence: string,
  ): Promise<T | undefined> {
    let raw: unknown;
    try {
      raw = await readJsonFile(join(this.options.dir, file));
    } catch (err) {
      this.events.stateFileUnreadable({ file, err, consequence });
      return undefined;
    }
    if (raw === undefined) return undefined;
    const parsed = parse(raw);
    if (parsed === undefined) {
      this.events.stateFileUnreadable({ file, err: new Error('unexpected content'), consequence });
    }
    return parsed;
  }

  // --- append path ----------------------------------------------------------------

  private async appendNow(batchSeq: number, payload: Uint8Array): Promise<boolean> {
    if (batchSeq <= this.lastBatchSeq) {
      throw new SpoolError(
        'SPOOL_SEQ_ORDER',
        `batch.batchSeq ${batchSeq} must be above the last appended or reserved seq ${this.lastBatchSeq}`,
      );
    }
    const recordBytes = HEADER_BYTES + payload.length;
    if (this.unackedBytes + recordBytes > this.options.maxBytes) {
      this.events.full(
        { bytes: this.unackedBytes, maxBytes: this.options.maxBytes, batchBytes: recordBytes },
        !this.full,
      );
      this.full = true;
      this.refusedWhileFull++;
      return false;
    }
    let active: ActiveSegment | undefined;
    let offset: number | undefined;
    try {
      await this.ensureReserved(batchSeq);
      active = await this.segmentFor(batchSeq, recordBytes);
      offset = active.index.size;
      await writeFully(active.fh, [encodeHeader(batchSeq, payload), payload], offset);
      if (this.options.fsync === 'always') await this.syncAppend(active);
    } catch (err) {
      if (offset !== undefined) await this.abandonActive(offset);
      if (errnoCode(err) === 'ENOSPC' || errnoCode(err) === 'EDQUOT') {
        this.events.diskFull({ segment: active?.index.name ?? '', err }, !this.full);
        this.full = true;
        this.refusedWhileFull++;
        return false;
      }
      this.events.writeFailed({ segment: active?.index.name ?? '', batchSeq, err });
      throw new SpoolError('SPOOL_IO', `could not store batch ${batchSeq} in ${this.options.dir}`, {
        cause: err,
      });
    }
    active.index.add(batchSeq, offset, payload.length, false);
    active.index.size = offset + recordBytes;
    this.lastBatchSeq = batchSeq;
    this.unackedBytes += recordBytes;
    this.unackedBatches++;
    this.events.appended();
    if (this.full) {
      this.events.roomAgain({ bytes: this.unackedBytes, refused: this.refusedWhileFull });
      this.full = false;
      this.refusedWhileFull = 0;
    }
    if (this.options.fsync === 'interval') this.markDirty();
    return true;
  }

  /**
   * Keep `reservedThrough` (durable in the meta file) above every seq written. The
   * reservation is renewed in the background at half-way, so appends rarely wait.
   */
  private async ensureReserved(batchSeq: number): Promise<void> {
    if (batchSeq > this.reservedThrough && this.reserving) await this.reserving;
    if (batchSeq > this.reservedThrough) {
      await this.reserve(batchSeq + SEQ_RESERVATION);
    } else if (batchSeq > this.reservedThrough - SEQ_RESERVATION / 2 && !this.reserving) {
      this.reserving = this.reserve(batchSeq + SEQ_RESERVATION)
        .catch((err: unknown) => this.events.stateWriteFailed({ file: META_FILE, err }))
        .finally(() => {
          this.reserving = undefined;
        });
    }
  }

  private async reserve(through: number): Promise<void> {
    // Always durable, whatever the fsync mode: it guards batches appended after a restart.
    await writeFileAtomic(
      join(this.options.dir, META_FILE),
      formatMeta({ reservedThrough: through }),
      true,
    );
    this.reservedThrough = Math.max(this.reservedThrough, through);
  }

  private async segmentFor(batchSeq: number, recordBytes: number): Promise<ActiveSegment> {
    const current = this.active;
    if (
      current &&
      current.index.size > 0 &&
      current.index.size + recordBytes > this.options.segmentBytes
    ) {
      await this.rollActive();
    }
    if (this.active) return this.active;
    const name = segmentFileName(batchSeq);
    const path = join(this.options.dir, name);
    const fh = await open(path, 'wx');
    const index = new SegmentIndex(path, name);
    this.segments.push(index);
    this.active = { index, fh };
    this.dirDirty = true;
    this.events.segmentCreated({ segment: name });
    return this.active;
  }

  private async syncAppend(active: ActiveSegment): Promise<void> {
    await active.fh.datasync();
    this.events.fsynced();
    if (this.dirDirty) {
      await syncDir(this.options.dir);
      this.dirDirty = false;
    }
  }

  /**
   * Stop appending to the active segment so the next append starts a new one. Under
   * `interval` the old file stays open for the next timed fsync, so a roll never makes
   * an append wait for a whole segment to reach the disk.
   */
  private async rollActive(): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    if (this.options.fsync === 'interval') {
      this.retired.push(active);
      this.markDirty();
      return;
    }
    await this.closeFile(active);
    if (active.index.fullyAcked) await this.deleteSegment(active.index);
  }

  /** Fsync (unless `never`), close and, if fully acknowledged, delete a segment file. */
  private async finishSegment(segment: ActiveSegment): Promise<unknown> {
    let failure: unknown;
    if (this.options.fsync !== 'never') {
      try {
        await segment.fh.datasync();
        this.events.fsynced();
      } catch (err) {
        this.events.fsyncFailed({ segment: segment.index.name, err });
        failure = err;
      }
    }
    await this.closeFile(segment);
    if (segment.index.fullyAcked) await this.deleteSegment(segment.index);
    return failure;
  }

  /**
   * After a failed write: cut the partial record off (best effort) and stop appending
   * to this file. Any leftover bytes are skipped as damage by the next recovery.
   */
  private async abandonActive(offset: number): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    await this.flushing;
    try {
      await active.fh.truncate(offset);
    } catch {
      // Recovery resyncs past whatever remains.
    }
    // The records before the failed one keep the loss window of the fsync mode.
    await this.finishSegment(active);
    if (active.index.count === 0) await this.deleteSegment(active.index);
  }

  private async closeFile(active: ActiveSegment): Promise<void> {
    try {
      await active.fh.close();
    } catch (err) {
      this.events.fsyncFailed({ segment: active.index.name, err });
    }
  }

  // --- interval fsync -------------------------------------------------------------

  private markDirty(): void {
    this.dirty = true;
    if (this.flushTimer === undefined && this.flushing === undefined) this.armFlush();
  }

  private armFlush(): void {
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flushNow().finally(() => {
        this.flushing = undefined;
        if (this.dirty && this.phase === 'open') this.armFlush();
      });
    }, this.options.fsyncIntervalMs);
    // A process that exits without close() loses nothing: the data is in the page cache.
    this.flushTimer.unref();
  }

  /** Never rejects: a failed fsync is logged and counted (data may be lost on power loss). */
  private async flushNow(): Promise<void> {
    this.dirty = false;
    for (const segment of this.retired.splice(0)) await this.finishSegment(segment);
    const active = this.active;
    if (active) await this.datasync(active);
    if (this.dirDirty) {
      this.dirDirty = false;
      try {
        await syncDir(this.options.dir);
      } catch (err) {
        this.dirDirty = true;
        this.events.fsyncFailed({ segment: '.', err });
      }
    }
  }

  private async datasync(active: ActiveSegment): Promise<void> {
    try {
      await active.fh.datasync();
      this.events.fsynced();
    } catch (err) {
      this.events.fsyncFailed({ segment: active.index.name, err });
    }
  }

  // --- acknowledgements -----------------------------------------------------------

  /** Mark record `i` acknowledged (or dropped) and delete its segment once all are. */
  private async release(segment: SegmentIndex, i: number): Promise<void> {
    const bytes = segment.markAcked(i);
    if (bytes === 0) return;
    this.unackedBytes -= bytes;
    this.unackedBatches--;
    if (segment.fullyAcked && segment !== this.active?.index) await this.deleteSegment(segment);
  }

  private async deleteSegment(segment: SegmentIndex): Promise<void> {
    const k = this.segments.indexOf(segment);
    if (k < 0) return;
    this.segments.splice(k, 1);
    try {
      await unlink(segment.path);
      this.events.segmentDeleted({ segment: segment.name });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.events.deleteFailed({ segment: segment.name, err });
    }
  }

  private scheduleAckWrite(): void {
    this.ackDirty = true;
    if (this.ackTimer !== undefined || this.ackWriting !== undefined) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      void this.writeAcks();
    }, this.options.fsyncIntervalMs);
    this.ackTimer.unref();
  }

  /** Never rejects: a lost ack state only means acknowledged batches are published again. */
  private writeAcks(): Promise<void> {
    this.ackDirty = false;
    const text = formatAcks(ackStateOf(this.segments, this.lastBatchSeq));
    const path = join(this.options.dir, ACKS_FILE);
    this.ackWriting = writeFileAtomic(path, text, this.options.fsync !== 'never')
      .catch((err: unknown) => this.events.stateWriteFailed({ file: ACKS_FILE, err }))
      .finally(() => {
        this.ackWriting = undefined;
        if (this.ackDirty && this.phase === 'open') this.scheduleAckWrite();
      });
    return this.ackWriting;
  }

  // --- reads ----------------------------------------------------------------------

  /** Bytes `[start, end)` of a segment, or `undefined` if the segment is gone. */
  private async readRange(
    segment: SegmentIndex,
    start: number,
    end: number,
  ): Promise<Buffer | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(segment.path, 'r');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') {
        throw new SpoolError('SPOOL_IO', `could not read spool segment ${segment.path}`, {
          cause: err,
        });
      }
      // Deleted because fully acknowledged meanwhile, or removed behind our back.
      await this.dropMissing(segment);
      return undefined;
    }
    try {
      return await readFully(fh, start, end - start);
    } catch (err) {
      throw new SpoolError('SPOOL_IO', `could not read spool segment ${segment.path}`, {
        cause: err,
      });
    } finally {
      await fh.close();
    }
  }

  private async dropMissing(segment: SegmentIndex): Promise<void> {
    if (!this.segments.includes(segment)) return;
    for (let i = 0; i < segment.count; i++) {
      if (segment.isAcked(i)) continue;
      this.events.corruptRead({ segment: segment.name, batchSeq: segment.seqAt(i) });
      await this.release(segment, i);
    }
    await this.deleteSegment(segment);
  }

  // --- lifecycle ------------------------------------------------------------------

  private refuse(operation: string, allowed: readonly Phase[]): SpoolError | undefined {
    if (allowed.includes(this.phase)) return undefined;
    if (this.phase === 'closing' || this.phase === 'closed') {
      return new SpoolError('SPOOL_CLOSED', `spool.${operation}() called after close()`);
    }
    return new SpoolError('SPOOL_NOT_OPEN', `spool.${operation}() called before open() resolved`);
  }

  private async closeNow(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined);
    if (this.phase !== 'open') {
      this.phase = 'closed';
      return;
    }
    this.phase = 'closing';
    await this.tail;
    await this.reserving;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushing;

    const failures: unknown[] = [];
    const open = [...this.retired.splice(0), ...(this.active ? [this.active] : [])];
    this.active = undefined;
    for (const segment of open) {
      const failure = await this.finishSegment(segment);
      if (failure !== undefined) failures.push(failure);
    }
    if (this.dirDirty && this.options.fsync !== 'never') {
      try {
        await syncDir(this.options.dir);
      } catch (err) {
        this.events.fsyncFailed({ segment: '.', err });
        failures.push(err);
      }
    }

    this.phase = 'closed';
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    await this.ackWriting;
    const acks = formatAcks(ackStateOf(this.segments, this.lastBatchSeq));
    const meta = formatMeta({ reservedThrough: this.lastBatchSeq });
    for (const [file, text, durable] of [
      [ACKS_FILE, acks, this.options.fsync !== 'never'],
      [META_FILE, meta, true],
    ] as const) {
      try {
        await writeFileAtomic(join(this.options.dir, file), text, durable);
      } catch (err) {
        this.events.stateWriteFailed({ file, err });
        failures.push(err);
      }
    }
    this.events.closed({
      pending: this.unackedBatches,
      bytes: this.unackedBytes,
      lastBatchSeq: this.lastBatchSeq,
    });
    if (failures.length > 0) {
      throw new SpoolError('SPOOL_IO', `closing the spool in ${this.options.dir} failed`, {
        cause: failures[0],
      });
    }
  }
}
