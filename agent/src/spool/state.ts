/**
 * The spool's two small state files, next to the segments:
 *
 * - `spool-meta.json` `{ version, reservedThrough }`: no batch with a higher seq was
 *   ever appended. It is written durably *before* a seq above it is used (in steps of
 *   `SEQ_RESERVATION`), so after any crash, even one that lost the tail of a segment,
 *   the next seq handed out is above every seq JetStream may already hold: a reused
 *   seq would be dropped as a duplicate `Nats-Msg-Id`. A clean close writes the exact
 *   last seq.
 * - `spool-acks.json` `{ version, ackedThrough, ranges }`: every stored batch with
 *   seq <= `ackedThrough` or inside one of the `[from, to]` ranges was acknowledged.
 *   Written lazily; if it is lost or stale, acknowledged batches are published again
 *   (JetStream and the table deduplicate), never the reverse.
 */
import type { SegmentIndex } from './segment.js';

export const META_FILE = 'spool-meta.json';
export const ACKS_FILE = 'spool-acks.json';
/** How far ahead of the last appended seq the meta file reserves. */
export const SEQ_RESERVATION = 4096;

export interface SpoolMeta {
  reservedThrough: number;
}

export interface AckState {
  ackedThrough: number;
  /** Sorted, disjoint `[from, to]` ranges of acknowledged seqs above `ackedThrough`. */
  ranges: [number, number][];
}

export const NO_ACKS: AckState = { ackedThrough: 0, ranges: [] };

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A meta file's content, or `undefined` when it is not one. */
export function parseMeta(raw: unknown): SpoolMeta | undefined {
  if (!isRecord(raw) || raw.version !== 1 || !isSeq(raw.reservedThrough)) return undefined;
  return { reservedThrough: raw.reservedThrough };
}

export function formatMeta(meta: SpoolMeta): string {
  return `${JSON.stringify({ version: 1, reservedThrough: meta.reservedThrough })}\n`;
}

/** An ack file's content, or `undefined` when it is not one (or its ranges are unsorted). */
export function parseAcks(raw: unknown): AckState | undefined {
  if (!isRecord(raw) || raw.version !== 1 || !isSeq(raw.ackedThrough)) return undefined;
  if (!Array.isArray(raw.ranges)) return undefined;
  const ranges: [number, number][] = [];
  let last = raw.ackedThrough;
  for (const range of raw.ranges as unknown[]) {
    if (!Array.isArray(range) || range.length !== 2) return undefined;
    const [from, to] = range as unknown[];
    if (!isSeq(from) || !isSeq(to) || from <= last || to < from) return undefined;
    ranges.push([from, to]);
    last = to;
  }
  return { ackedThrough: raw.ackedThrough, ranges };
}

export function formatAcks(state: AckState): string {
  return `${JSON.stringify({ version: 1, ackedThrough: state.ackedThrough, ranges: state.ranges })}\n`;
}

export function isAcked(state: AckState, seq: number): boolean {
  if (seq <= state.ackedThrough) return true;
  let lo = 0;
  let hi = state.ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const range = state.ranges[mid];
    if (!range) break;
    if (seq < range[0]) hi = mid;
    else if (seq > range[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * The ack state of the stored records: everything below the first unacknowledged
 * record is acked; later acked records are folded into ranges of neighbours (a range
 * may span seqs that were never stored, which is harmless: seqs only grow).
 */
export function ackStateOf(segments: readonly SegmentIndex[], lastBatchSeq: number): AckState {
  const ranges: [number, number][] = [];
  let ackedThrough: number | undefined;
  let open: [number, number] | undefined;
  for (const segment of segments) {
    for (let i = 0; i < segment.count; i++) {
      const seq = segment.seqAt(i);
      if (!segment.isAcked(i)) {
        ackedThrough ??= seq - 1;
        open = undefined;
      } else if (ackedThrough !== undefined) {
        if (open) open[1] = seq;
        else ranges.push((open = [seq, seq]));
      }
    }
  }
  return { ackedThrough: ackedThrough ?? lastBatchSeq, ranges };
}
