/**
 * Crash-safe open: rebuild the index from the segment files. Damage never stops the
 * spool from opening; it is skipped, counted and logged (see `scanRecords` for the
 * resync). A torn tail of the newest segment is truncated so the next open does not
 * report it again; damage elsewhere is left in place (and reported at every open).
 */
import { readFile, readdir, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpoolEvents } from './events.js';
import { scanRecords } from './record.js';
import { SegmentIndex, parseSegmentFileName } from './segment.js';

export interface Recovered {
  /** Segments that still hold unacknowledged records, in seq order. */
  segments: SegmentIndex[];
  /** Highest seq of any intact record found (0 if none). */
  lastSeq: number;
  skippedRecords: number;
}

export async function recoverSegments(
  dir: string,
  isAcked: (seq: number) => boolean,
  events: SpoolEvents,
): Promise<Recovered> {
  const names = (await readdir(dir))
    .map((name) => ({ name, firstSeq: parseSegmentFileName(name) }))
    .filter((entry): entry is { name: string; firstSeq: number } => entry.firstSeq !== undefined)
    .sort((a, b) => a.firstSeq - b.firstSeq);

  const segments: SegmentIndex[] = [];
  let lastSeq = 0;
  let skippedRecords = 0;
  for (const [k, { name }] of names.entries()) {
    const path = join(dir, name);
    const newest = k === names.length - 1;
    // One segment in memory at a time: bounded by segmentBytes (or one large record).
    const buf = await readFile(path);
    const { records, damage } = scanRecords(buf, lastSeq);
    let size = buf.length;
    for (const span of damage) {
      skippedRecords++;
      const tornTail = newest && span.at === 'tail';
      events.damageSkipped({
        segment: name,
        offset: span.offset,
        bytes: span.bytes,
        reason: tornTail ? 'torn_tail' : 'corrupt',
      });
      if (tornTail) size = span.offset;
    }

    const segment = new SegmentIndex(path, name, size);
    for (const record of records)
      segment.add(record.seq, record.offset, record.length, isAcked(record.seq));
    const last = records.at(-1);
    if (last) lastSeq = last.seq;

    if (segment.count === 0 || segment.fullyAcked) {
      await unlink(path);
      events.segmentDeleted({ segment: name });
      continue;
    }
    if (size < buf.length) await truncate(path, size);
    segments.push(segment);
  }
  return { segments, lastSeq, skippedRecords };
}
