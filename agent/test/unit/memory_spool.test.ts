import { describe, expect, it } from 'vitest';
import { MemorySpool } from '../../src/spool/memory.js';

const bytes = (n: number): Uint8Array => new Uint8Array(n);

describe('MemorySpool', () => {
  it('appends in order, reads pending after a sequence, acks in any order', async () => {
    const spool = new MemorySpool({ maxBytes: 1000 });
    expect(await spool.open()).toEqual({ lastBatchSeq: 0, pending: 0, skippedRecords: 0 });
    for (let seq = 1; seq <= 4; seq += 1)
      expect(await spool.append({ batchSeq: seq, payload: bytes(100) })).toBe(true);
    await expect(spool.append({ batchSeq: 2, payload: bytes(1) })).rejects.toThrow(RangeError);
    expect((await spool.readPending(1, 2)).map((b) => b.batchSeq)).toEqual([2, 3]);
    await spool.ack(3);
    await spool.ack(1);
    expect((await spool.readPending(0, 10)).map((b) => b.batchSeq)).toEqual([2, 4]);
    expect(spool.stats()).toEqual({ bytes: 200, batches: 2, segments: 0 });
  });

  it('refuses an append beyond maxBytes without storing it', async () => {
    const spool = new MemorySpool({ maxBytes: 250 });
    await spool.open();
    expect(await spool.append({ batchSeq: 1, payload: bytes(200) })).toBe(true);
    expect(await spool.append({ batchSeq: 2, payload: bytes(100) })).toBe(false);
    expect(spool.stats().batches).toBe(1);
    await spool.ack(1);
    expect(await spool.append({ batchSeq: 2, payload: bytes(100) })).toBe(true);
  });
});
