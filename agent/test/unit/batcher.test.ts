import { decodeBatch, decodeSessionEvent, EventKind, type RecordingGap } from '@connlog/proto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher, type BatcherOptions, type ClosedBatch } from '../../src/publish/batcher.js';
import { event, nth } from './helpers.js';

const header = { agentId: 'agent-1', orgId: 'acme', siteId: 'berlin', agentVersion: '0.1.0' };

function make(patch: Partial<BatcherOptions> = {}) {
  const batches: ClosedBatch[] = [];
  const gaps: RecordingGap[] = [];
  const started: string[] = [];
  let now = 1_000;
  const batcher = new Batcher({
    header,
    lastBatchSeq: 41,
    maxBatchEvents: 1000,
    maxBatchBytes: 512 * 1024,
    flushIntervalMs: 1000,
    maxBufferBytes: 16 * 1024 * 1024,
    onBatch: (batch) => batches.push(batch),
    gapReason: () => 'spool_full',
    onGapStarted: (reason) => started.push(reason),
    onGapEnded: (gap) => gaps.push(gap),
    now: () => now,
    ...patch,
  });
  return { batcher, batches, gaps, started, tick: (ms: number) => (now += ms) };
}

describe('Batcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes a batch at maxBatchEvents, numbering from the spool’s last sequence', () => {
    const { batcher, batches } = make({ maxBatchEvents: 3 });
    for (let i = 0; i < 7; i += 1) batcher.add(event());
    expect(batches.map((b) => b.batchSeq)).toEqual([42, 43]);
    expect(batches.map((b) => b.events)).toEqual([3, 3]);
    const decoded = decodeBatch(nth(batches, 0).payload);
    expect(decoded).toMatchObject({ ...header, batchSeq: 42, sentAtMs: 1000 });
    expect(decoded.events).toHaveLength(3);
  });

  it('closes a batch before it would exceed maxBatchBytes', () => {
    const { batcher, batches } = make({ maxBatchBytes: 4096 });
    for (let i = 0; i < 100; i += 1) batcher.add(event({ error: 'e'.repeat(200) }));
    batcher.flush();
    expect(batches.length).toBeGreaterThan(5);
    for (const batch of batches) expect(batch.payload.length).toBeLessThanOrEqual(4096);
    expect(batches.reduce((sum, b) => sum + b.events, 0)).toBe(100);
  });

  it('closes a batch flushInterval after its first event', () => {
    const { batcher, batches } = make({ flushIntervalMs: 1000 });
    batcher.add(event());
    vi.advanceTimersByTime(600);
    batcher.add(event());
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(400);
    expect(batches).toHaveLength(1);
    expect(nth(batches, 0).events).toBe(2);
    vi.advanceTimersByTime(5000);
    expect(batches).toHaveLength(1);
  });

  it('hands every event, encoded, to the journal in order', () => {
    const { batcher, batches } = make();
    const start = event({ sessionId: 's1' });
    const update = event({ sessionId: 's1', kind: EventKind.UPDATE, seq: 2 });
    batcher.add(start);
    batcher.add(update);
    const s2 = event({ sessionId: 's2' });
    batcher.add(s2);
    const end = event({ sessionId: 's2', kind: EventKind.END, seq: 2 });
    batcher.add(end);
    batcher.flush();
    const journal = nth(batches, 0).journal;
    expect(journal.map((e) => [e.sessionId, e.end])).toEqual([
      ['s1', false],
      ['s1', false],
      ['s2', false],
      ['s2', true],
    ]);
    expect(journal.map((e) => decodeSessionEvent(e.encoded))).toEqual([start, update, s2, end]);
  });

  it('at the memory bound: refuses new sessions and UPDATEs, keeps ENDs, then reports the gap', () => {
    const { batcher, batches, gaps, started, tick } = make({
      maxBatchBytes: 4096,
      maxBufferBytes: 8192,
    });
    expect(batcher.admitSession()).toBe(true);
    while (batcher.bufferedBytes < 16384) batcher.add(event({ error: 'e'.repeat(200) }));
    expect(batcher.admitSession()).toBe(false);
    expect(batcher.admitSession()).toBe(false);
    expect(batcher.inGap).toBe(true);
    expect(started).toEqual(['spool_full']);
    expect(batcher.add(event({ kind: EventKind.UPDATE, seq: 2 }))).toBe(false);
    expect(batcher.add(event({ kind: EventKind.END, seq: 2 }))).toBe(true);
    tick(5000);
    batcher.flush();
    // The spool takes all but three batches: still above half the bound, still in the gap.
    const held = batches.splice(0);
    expect(held.length).toBeGreaterThan(3);
    for (const batch of held.slice(3)) batcher.release(batch);
    expect(batcher.bufferedBytes).toBeGreaterThan(8192);
    expect(batcher.inGap).toBe(true);
    for (const batch of held.slice(0, 3)) batcher.release(batch);
    expect(batcher.inGap).toBe(false);
    expect(gaps).toEqual([
      { fromMs: 1000, toMs: 6000, sessionsNotRecorded: 2, reason: 'spool_full' },
    ]);
    expect(batcher.admitSession()).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(batches).toHaveLength(1);
    const decoded = decodeBatch(nth(batches, 0).payload);
    expect(decoded.gaps).toEqual(gaps);
    expect(decoded.events).toHaveLength(0);
  });

  it('close() flushes, reports an open gap and refuses later events', () => {
    const { batcher, batches, gaps } = make({ maxBufferBytes: 4096, maxBatchBytes: 4096 });
    while (batcher.bufferedBytes < 4096) batcher.add(event({ error: 'e'.repeat(200) }));
    expect(batcher.admitSession()).toBe(false);
    batcher.close();
    expect(gaps).toHaveLength(1);
    const last = decodeBatch(nth(batches, -1).payload);
    expect(last.gaps[0]?.sessionsNotRecorded).toBe(1);
    expect(batcher.add(event())).toBe(false);
  });

  it('checkBound() starts a gap at the bound for events admitted elsewhere', () => {
    const { batcher, started } = make({ maxBatchBytes: 4096, maxBufferBytes: 8192 });
    batcher.checkBound();
    expect(batcher.inGap).toBe(false);
    while (batcher.bufferedBytes < 8192) batcher.add(event({ error: 'e'.repeat(200) }));
    batcher.checkBound();
    batcher.checkBound();
    expect(batcher.inGap).toBe(true);
    expect(started).toEqual(['spool_full']);
  });

  it('counts sessions a worker did not record into the gap going on, or reports them as one', () => {
    const { batcher, batches, gaps, tick } = make({ maxBatchBytes: 4096, maxBufferBytes: 8192 });
    batcher.addNotRecorded(3);
    expect(gaps).toEqual([
      { fromMs: 1000, toMs: 1000, sessionsNotRecorded: 3, reason: 'spool_full' },
    ]);
    expect(batcher.inGap).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(decodeBatch(nth(batches, 0).payload).gaps).toEqual(gaps);
    batches.splice(0);
    while (batcher.bufferedBytes < 16384) batcher.add(event({ error: 'e'.repeat(200) }));
    expect(batcher.admitSession()).toBe(false);
    batcher.addNotRecorded(4);
    tick(2000);
    batcher.close();
    expect(gaps.at(-1)).toEqual({
      fromMs: 1000,
      toMs: 3000,
      sessionsNotRecorded: 5,
      reason: 'spool_full',
    });
  });
});
