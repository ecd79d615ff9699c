/**
 * One function per spool lifecycle event: each logs (object first) and counts in the
 * spool's counters, so the two never drift. Payload bytes are never logged.
 */
import type { Logger } from 'pino';

/** Running totals since the spool was constructed (for the agent's metrics). */
export interface DiskSpoolCounters {
  /** Batches appended. */
  appended: number;
  /** Batches acknowledged (first ack of each; repeats are not counted). */
  acked: number;
  /** Appends refused because the spool was at `maxBytes` or the disk was full. */
  rejectedFull: number;
  /** Torn or corrupt records skipped by recovery (one per damaged span). */
  skippedRecords: number;
  /** Records whose checksum failed when read back for publishing (dropped). */
  corruptReads: number;
  /** Completed fsyncs of segment data. */
  fsyncs: number;
  /** Failed writes or fsyncs. */
  ioErrors: number;
  segmentsCreated: number;
  segmentsDeleted: number;
}

export function newCounters(): DiskSpoolCounters {
  return {
    appended: 0,
    acked: 0,
    rejectedFull: 0,
    skippedRecords: 0,
    corruptReads: 0,
    fsyncs: 0,
    ioErrors: 0,
    segmentsCreated: 0,
    segmentsDeleted: 0,
  };
}

export class SpoolEvents {
  readonly counters = newCounters();

  constructor(private readonly log: Logger | undefined) {}

  opened(fields: {
    dir: string;
    lastBatchSeq: number;
    pending: number;
    bytes: number;
    segments: number;
    skippedRecords: number;
  }): void {
    this.log?.info(fields, 'spool opened');
  }

  /**
   * Recovery found bytes holding no intact record. A torn tail of the newest segment
   * is the expected trace of a crash during a write (that append never resolved); any
   * other damage means stored batches are lost, hence ERROR.
   */
  damageSkipped(fields: {
    segment: string;
    offset: number;
    bytes: number;
    reason: 'torn_tail' | 'corrupt';
  }): void {
    this.counters.skippedRecords++;
    if (fields.reason === 'torn_tail') {
      this.log?.warn(fields, 'spool recovery skipped a torn record at the end of the spool');
    } else {
      this.log?.error(
        fields,
        'spool recovery skipped corrupt bytes; batches stored there are lost',
      );
    }
  }

  stateFileUnreadable(fields: { file: string; err: unknown; consequence: string }): void {
    this.log?.warn(fields, 'spool state file unreadable, ignored');
  }

  appended(): void {
    this.counters.appended++;
  }

  acked(): void {
    this.counters.acked++;
  }

  /** Logged once per full episode (until an append fits again); counted every time. */
  full(
    fields: { bytes: number; maxBytes: number; batchBytes: number },
    firstOfEpisode: boolean,
  ): void {
    this.counters.rejectedFull++;
    if (firstOfEpisode)
      this.log?.warn(fields, 'spool full, appends refused until batches are acknowledged');
  }

  roomAgain(fields: { bytes: number; refused: number }): void {
    this.log?.info(fields, 'spool accepts appends again');
  }

  diskFull(fields: { segment: string; err: unknown }, firstOfEpisode: boolean): void {
    this.counters.rejectedFull++;
    this.counters.ioErrors++;
    if (firstOfEpisode) this.log?.error(fields, 'spool disk full, appends refused');
  }

  writeFailed(fields: { segment: string; batchSeq: number; err: unknown }): void {
    this.counters.ioErrors++;
    this.log?.error(fields, 'spool write failed');
  }

  fsynced(): void {
    this.counters.fsyncs++;
  }

  /** Data written since the last good fsync may be lost on power failure. */
  fsyncFailed(fields: { segment: string; err: unknown }): void {
    this.counters.ioErrors++;
    this.log?.error(fields, 'spool fsync failed; recent batches may not survive a power loss');
  }

  corruptRead(fields: { segment: string; batchSeq: number }): void {
    this.counters.corruptReads++;
    this.log?.error(fields, 'spool record failed its checksum when read back; batch dropped');
  }

  segmentCreated(fields: { segment: string }): void {
    this.counters.segmentsCreated++;
    this.log?.debug(fields, 'spool segment created');
  }

  segmentDeleted(fields: { segment: string }): void {
    this.counters.segmentsDeleted++;
    this.log?.debug(fields, 'spool segment deleted');
  }

  deleteFailed(fields: { segment: string; err: unknown }): void {
    this.log?.warn(fields, 'spool could not delete an acknowledged segment; retried at next open');
  }

  stateWriteFailed(fields: { file: string; err: unknown }): void {
    this.counters.ioErrors++;
    this.log?.warn(fields, 'spool could not write its state file');
  }

  closed(fields: { pending: number; bytes: number; lastBatchSeq: number }): void {
    this.log?.info(fields, 'spool closed');
  }
}
