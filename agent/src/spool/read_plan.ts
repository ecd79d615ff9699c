/** Which records a `readPending` call returns and how they are fetched: pure lookups. */
import { HEADER_BYTES } from './record.js';
import type { SegmentIndex } from './segment.js';

/** Records closer than this in one segment are fetched with a single read. */
const READ_GAP_BYTES = 64 * 1024;

/** Record `i` of `segment`. */
export interface Pick {
  segment: SegmentIndex;
  i: number;
}

/** The segment that holds `batchSeq` if any (segments in seq order). */
export function segmentOf(
  segments: readonly SegmentIndex[],
  batchSeq: number,
): SegmentIndex | undefined {
  let lo = 0;
  let hi = segments.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((segments[mid]?.firstSeq ?? 0) <= batchSeq) lo = mid + 1;
    else hi = mid;
  }
  return segments[lo - 1];
}

/** Up to `max` unacknowledged records with a seq above `afterSeq`, in seq order. */
export function pickPending(
  segments: readonly SegmentIndex[],
  afterSeq: number,
  max: number,
): Pick[] {
  const picks: Pick[] = [];
  const from = segments.findIndex((s) => s.lastSeq > afterSeq);
  if (from < 0) return picks;
  for (const segment of segments.slice(from)) {
    for (let i = segment.firstAfter(afterSeq); i < segment.count; i++) {
      if (picks.length >= max) return picks;
      if (!segment.isAcked(i)) picks.push({ segment, i });
    }
  }
  return picks;
}

/** Group picks into runs that one read each can fetch (same segment, small gaps). */
export function readRuns(picks: readonly Pick[]): Pick[][] {
  const runs: Pick[][] = [];
  let run: Pick[] = [];
  let end = 0;
  for (const pick of picks) {
    const { segment, i } = pick;
    const offset = segment.offsetAt(i);
    if (run.length > 0 && (run[0]?.segment !== segment || offset - end > READ_GAP_BYTES)) {
      runs.push(run);
      run = [];
    }
    run.push(pick);
    end = offset + HEADER_BYTES + segment.lengthAt(i);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
