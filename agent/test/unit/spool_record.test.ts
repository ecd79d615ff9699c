import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, encodeHeader, recordAt, scanRecords } from '../../src/spool/record.js';
import { pickPending, readRuns, segmentOf } from '../../src/spool/read_plan.js';
import { SegmentIndex, parseSegmentFileName, segmentFileName } from '../../src/spool/segment.js';
import { ackStateOf, isAcked, parseAcks, parseMeta } from '../../src/spool/state.js';
import { payloadFor } from './spool_helpers.js';

function records(...seqs: number[]): Buffer {
  return Buffer.concat(
    seqs.flatMap((seq) => {
      const payload = payloadFor(seq, 10 + (seq % 7));
      return [encodeHeader(seq, payload), payload];
    }),
  );
}

describe('spool record format', () => {
  it('round-trips seqs beyond 32 bits', () => {
    const seq = 2 ** 40 + 12345;
    const buf = records(seq);
    expect(recordAt(buf, 0, 0)).toEqual({ seq, offset: 0, length: 10 + (seq % 7) });
    expect(recordAt(buf, 0, seq)).toBeUndefined();
  });

  it('finds every record of a clean segment', () => {
    const { records: found, damage } = scanRecords(records(1, 2, 3), 0);
    expect(found.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(damage).toEqual([]);
  });

  it('resyncs past damage in the middle and reports a torn tail', () => {
    const clean = records(1, 2, 3);
    const second = HEADER_BYTES + 11;
    const buf = Buffer.concat([clean, Buffer.from('CLS1xx')]);
    buf[second + HEADER_BYTES] = (buf[second + HEADER_BYTES] ?? 0) ^ 1;
    const { records: found, damage } = scanRecords(buf, 0);
    expect(found.map((r) => r.seq)).toEqual([1, 3]);
    expect(damage).toEqual([
      { offset: second, bytes: HEADER_BYTES + 12, at: 'middle' },
      { offset: clean.length, bytes: 6, at: 'tail' },
    ]);
  });

  it('treats a record whose seq does not increase as damage', () => {
    const { records: found, damage } = scanRecords(records(5, 4, 6), 0);
    expect(found.map((r) => r.seq)).toEqual([5, 6]);
    expect(damage).toHaveLength(1);
    expect(scanRecords(records(5, 6), 5).records.map((r) => r.seq)).toEqual([6]);
  });

  it('names segments so they sort by first seq', () => {
    expect(segmentFileName(42)).toBe('seg-00000000000000000042.log');
    expect(parseSegmentFileName(segmentFileName(2 ** 50))).toBe(2 ** 50);
    expect(parseSegmentFileName('seg-42.log')).toBeUndefined();
    expect(parseSegmentFileName('agent-id')).toBeUndefined();
  });
});

describe('spool ack state', () => {
  it('folds acks into a low-water mark and ranges', () => {
    const a = new SegmentIndex('/x/a', 'a');
    const b = new SegmentIndex('/x/b', 'b');
    for (const seq of [1, 2, 3, 4]) a.add(seq, 0, 1, seq !== 3);
    for (const seq of [10, 11, 12, 13]) b.add(seq, 0, 1, seq === 10 || seq === 11 || seq === 13);
    const state = ackStateOf([a, b], 13);
    expect(state).toEqual({
      ackedThrough: 2,
      ranges: [
        [4, 11],
        [13, 13],
      ],
    });
    expect([1, 2, 3, 4, 10, 11, 12, 13, 14].filter((seq) => isAcked(state, seq))).toEqual([
      1, 2, 4, 10, 11, 13,
    ]);
    expect(parseAcks(JSON.parse(JSON.stringify({ version: 1, ...state })))).toEqual(state);
  });

  it('says everything is acked when nothing is pending', () => {
    const a = new SegmentIndex('/x/a', 'a');
    a.add(7, 0, 1, true);
    expect(ackStateOf([a], 9)).toEqual({ ackedThrough: 9, ranges: [] });
    expect(ackStateOf([], 9)).toEqual({ ackedThrough: 9, ranges: [] });
  });

  it('rejects malformed state', () => {
    expect(parseAcks({ version: 1, ackedThrough: 5, ranges: [[3, 4]] })).toBeUndefined();
    expect(parseAcks({ version: 1, ackedThrough: 5, ranges: [[9, 8]] })).toBeUndefined();
    expect(parseAcks({ version: 2, ackedThrough: 5, ranges: [] })).toBeUndefined();
    expect(parseAcks('x')).toBeUndefined();
    expect(parseMeta({ version: 1, reservedThrough: -1 })).toBeUndefined();
    expect(parseMeta({ version: 1, reservedThrough: 7 })).toEqual({ reservedThrough: 7 });
  });
});

describe('spool read plan', () => {
  const a = new SegmentIndex('/x/a', 'a');
  const b = new SegmentIndex('/x/b', 'b');
  // a: seqs 1..4 of 1000-byte payloads, seq 3 acked; then seq 5 far behind a gap.
  for (const seq of [1, 2, 3, 4]) a.add(seq, (seq - 1) * (HEADER_BYTES + 1000), 1000, seq === 3);
  a.add(5, 10_000_000, 1000, false);
  for (const seq of [8, 9]) b.add(seq, (seq - 8) * (HEADER_BYTES + 10), 10, false);

  it('picks unacknowledged records after a seq, up to max', () => {
    const seqs = (afterSeq: number, max: number) =>
      pickPending([a, b], afterSeq, max).map(({ segment, i }) => segment.seqAt(i));
    expect(seqs(0, 10)).toEqual([1, 2, 4, 5, 8, 9]);
    expect(seqs(2, 3)).toEqual([4, 5, 8]);
    expect(seqs(5, 10)).toEqual([8, 9]);
    expect(seqs(9, 10)).toEqual([]);
    expect(seqs(0, 0)).toEqual([]);
  });

  it('reads neighbours together and splits at segment ends and large gaps', () => {
    const runs = readRuns(pickPending([a, b], 0, 10));
    expect(runs.map((run) => run.map(({ segment, i }) => segment.seqAt(i)))).toEqual([
      [1, 2, 4],
      [5],
      [8, 9],
    ]);
  });

  it('finds the segment of a seq', () => {
    expect(segmentOf([a, b], 0)).toBeUndefined();
    expect(segmentOf([a, b], 3)).toBe(a);
    expect(segmentOf([a, b], 7)).toBe(a);
    expect(segmentOf([a, b], 9)).toBe(b);
  });
});
