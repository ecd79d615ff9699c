import {
  closeSync,
  mkdirSync,
  openSync,
  rmdirSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@connlog/testkit';
import { DiskSpool } from '../../src/spool/disk.js';
import { SpoolError } from '../../src/spool/errors.js';
import { readJsonFile } from '../../src/spool/files.js';
import { HEADER_BYTES } from '../../src/spool/record.js';
import { ACKS_FILE, META_FILE, isAcked, parseAcks } from '../../src/spool/state.js';
import { appendRange, newSpool, payloadFor, segmentFiles, spoolDir } from './spool_helpers.js';

const seqsOf = (batches: { batchSeq: number }[]): number[] => batches.map((b) => b.batchSeq);

describe('DiskSpool', () => {
  for (const fsync of ['always', 'interval', 'never'] as const) {
    it(`round-trips append, readPending and ack (fsync ${fsync})`, async () => {
      const dir = spoolDir();
      // Two records per segment, so rolls happen in every mode.
      const spool = newSpool({
        dir,
        fsync,
        fsyncIntervalMs: 10,
        segmentBytes: 2 * (HEADER_BYTES + 300),
      });
      expect(await spool.open()).toEqual({ lastBatchSeq: 0, pending: 0, skippedRecords: 0 });
      await appendRange(spool, 1, 5, 300);
      expect(spool.stats()).toEqual({ bytes: 5 * (HEADER_BYTES + 300), batches: 5, segments: 3 });

      const all = await spool.readPending(0, 10);
      expect(seqsOf(all)).toEqual([1, 2, 3, 4, 5]);
      for (const batch of all)
        expect(Buffer.from(batch.payload)).toEqual(payloadFor(batch.batchSeq, 300));
      expect(seqsOf(await spool.readPending(2, 2))).toEqual([3, 4]);
      expect(await spool.readPending(5, 10)).toEqual([]);
      expect(await spool.readPending(0, 0)).toEqual([]);

      await spool.ack(1);
      await spool.ack(2);
      expect(seqsOf(await spool.readPending(0, 10))).toEqual([3, 4, 5]);
      expect(spool.stats()).toMatchObject({ batches: 3, bytes: 3 * (HEADER_BYTES + 300) });
      expect(segmentFiles(dir)).toHaveLength(2);
      if (fsync !== 'never') await waitFor(() => spool.counters().fsyncs > 0, 5000, 'an fsync');
      await spool.close();
      const reopened = newSpool({ dir, fsync });
      expect(await reopened.open()).toEqual({ lastBatchSeq: 5, pending: 3, skippedRecords: 0 });
      expect(seqsOf(await reopened.readPending(0, 10))).toEqual([3, 4, 5]);
    });
  }

  it('takes acks in any order, and ignores repeated and unknown ones', async () => {
    const spool = newSpool();
    await spool.open();
    await appendRange(spool, 1, 6);
    await spool.ack(3);
    await spool.ack(1);
    await spool.ack(5);
    await spool.ack(5);
    await spool.ack(42);
    expect(seqsOf(await spool.readPending(0, 10))).toEqual([2, 4, 6]);
    expect(seqsOf(await spool.readPending(2, 10))).toEqual([4, 6]);
    expect(spool.stats().batches).toBe(3);
    expect(spool.counters().acked).toBe(3);
  });

  it('keeps out-of-order acks across a restart', async () => {
    const dir = spoolDir();
    const first = newSpool({ dir });
    await first.open();
    await appendRange(first, 1, 8);
    for (const seq of [2, 1, 5, 7, 8]) await first.ack(seq);
    await first.close();

    const second = newSpool({ dir });
    expect(await second.open()).toEqual({ lastBatchSeq: 8, pending: 3, skippedRecords: 0 });
    expect(seqsOf(await second.readPending(0, 10))).toEqual([3, 4, 6]);
  });

  it('rolls segments at segmentBytes and deletes a segment once all its batches are acked', async () => {
    const dir = spoolDir();
    // Two 100-byte records per segment.
    const spool = newSpool({ dir, segmentBytes: 2 * (HEADER_BYTES + 100) });
    await spool.open();
    await appendRange(spool, 1, 7);
    expect(segmentFiles(dir)).toEqual([
      'seg-00000000000000000001.log',
      'seg-00000000000000000003.log',
      'seg-00000000000000000005.log',
      'seg-00000000000000000007.log',
    ]);
    expect(spool.stats().segments).toBe(4);

    await spool.ack(4);
    await spool.ack(1);
    expect(segmentFiles(dir)).toHaveLength(4);
    await spool.ack(3);
    expect(segmentFiles(dir)).toEqual([
      'seg-00000000000000000001.log',
      'seg-00000000000000000005.log',
      'seg-00000000000000000007.log',
    ]);
    await spool.ack(2);
    await spool.ack(6);
    await spool.ack(5);
    expect(segmentFiles(dir)).toEqual(['seg-00000000000000000007.log']);
    // The segment being appended stays until it rolls or the spool closes.
    await spool.ack(7);
    await appendRange(spool, 8, 8);
    await spool.ack(8);
    expect(segmentFiles(dir)).toEqual(['seg-00000000000000000007.log']);
    await appendRange(spool, 9, 9);
    expect(segmentFiles(dir)).toEqual(['seg-00000000000000000009.log']);
    expect(spool.stats()).toEqual({ bytes: HEADER_BYTES + 100, batches: 1, segments: 1 });
    expect(seqsOf(await spool.readPending(0, 10))).toEqual([9]);
    await spool.ack(9);
    await spool.close();
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('gives a batch larger than segmentBytes a segment of its own', async () => {
    const dir = spoolDir();
    const spool = newSpool({ dir, segmentBytes: 256 });
    await spool.open();
    await appendRange(spool, 1, 1, 50);
    await appendRange(spool, 2, 2, 1000);
    await appendRange(spool, 3, 3, 50);
    expect(segmentFiles(dir)).toHaveLength(3);
    const batches = await spool.readPending(0, 10);
    expect(batches.map((b) => b.payload.length)).toEqual([50, 1000, 50]);
  });

  it('keeps unacked batches and lastBatchSeq across a restart', async () => {
    const dir = spoolDir();
    const first = newSpool({ dir, segmentBytes: 500 });
    await first.open();
    await appendRange(first, 1, 10);
    for (const seq of [1, 2, 3]) await first.ack(seq);
    await first.close();

    const second = newSpool({ dir, segmentBytes: 500 });
    expect(await second.open()).toEqual({ lastBatchSeq: 10, pending: 7, skippedRecords: 0 });
    const batches = await second.readPending(0, 100);
    expect(seqsOf(batches)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    for (const batch of batches)
      expect(Buffer.from(batch.payload)).toEqual(payloadFor(batch.batchSeq));
    await expect(second.append({ batchSeq: 10, payload: payloadFor(10) })).rejects.toMatchObject({
      code: 'SPOOL_SEQ_ORDER',
    });
    expect(await second.append({ batchSeq: 11, payload: payloadFor(11) })).toBe(true);
  });

  it('keeps lastBatchSeq after every batch was acked and every segment deleted', async () => {
    const dir = spoolDir();
    const first = newSpool({ dir, segmentBytes: 500 });
    await first.open();
    await appendRange(first, 1, 12);
    for (let seq = 12; seq >= 1; seq--) await first.ack(seq);
    await first.close();
    expect(segmentFiles(dir)).toEqual([]);

    const second = newSpool({ dir });
    expect(await second.open()).toEqual({ lastBatchSeq: 12, pending: 0, skippedRecords: 0 });
    expect(second.stats()).toEqual({ bytes: 0, batches: 0, segments: 0 });
  });

  it('never hands out a seq again after a power loss took the tail of the spool', async () => {
    const dir = spoolDir();
    const abandoned = newSpool({ dir });
    await abandoned.open();
    await appendRange(abandoned, 1, 5);
    // No close(), as in a crash; then the unflushed tail is lost: batch 5 (which may
    // already be in JetStream) vanishes from the segment.
    const [name] = segmentFiles(dir);
    if (!name) throw new Error('no segment');
    truncateSync(join(dir, name), 4 * (HEADER_BYTES + 100));
    const next = new DiskSpool({ dir, fsync: 'never' });
    const { lastBatchSeq, pending } = await next.open();
    expect(lastBatchSeq).toBeGreaterThanOrEqual(5);
    expect(pending).toBe(4);
    await next.close();

    // Even with every segment gone, the durable reservation keeps seqs unique.
    for (const file of segmentFiles(dir)) unlinkSync(join(dir, file));
    const third = new DiskSpool({ dir, fsync: 'never' });
    expect((await third.open()).lastBatchSeq).toBeGreaterThanOrEqual(5);
    await third.close();
  });

  it('refuses an append beyond maxBytes and accepts again after acks', async () => {
    const record = HEADER_BYTES + 100;
    const spool = newSpool({ maxBytes: 3 * record });
    await spool.open();
    await appendRange(spool, 1, 3);
    expect(await spool.append({ batchSeq: 4, payload: payloadFor(4) })).toBe(false);
    expect(await spool.append({ batchSeq: 4, payload: payloadFor(4) })).toBe(false);
    expect(spool.stats()).toMatchObject({ batches: 3, bytes: 3 * record });
    expect(spool.counters().rejectedFull).toBe(2);

    await spool.ack(2);
    expect(await spool.append({ batchSeq: 4, payload: payloadFor(4) })).toBe(true);
    expect(await spool.append({ batchSeq: 5, payload: payloadFor(5) })).toBe(false);
    expect(seqsOf(await spool.readPending(0, 10))).toEqual([1, 3, 4]);
  });

  it('serializes concurrent appends in call order', async () => {
    const spool = newSpool({ segmentBytes: 4096 });
    await spool.open();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, k) =>
        spool.append({ batchSeq: k + 1, payload: payloadFor(k + 1) }),
      ),
    );
    expect(results.every(Boolean)).toBe(true);
    const batches = await spool.readPending(0, 1000);
    expect(seqsOf(batches)).toEqual(Array.from({ length: 200 }, (_, k) => k + 1));
    for (const batch of batches)
      expect(Buffer.from(batch.payload)).toEqual(payloadFor(batch.batchSeq));
  });

  it('closes idempotently and refuses use after close', async () => {
    const spool = newSpool();
    await spool.open();
    await appendRange(spool, 1, 2);
    const closing = spool.close();
    expect(spool.close()).toBe(closing);
    await closing;
    await spool.close();
    await expect(spool.append({ batchSeq: 3, payload: payloadFor(3) })).rejects.toMatchObject({
      code: 'SPOOL_CLOSED',
    });
    await expect(spool.readPending(0, 1)).rejects.toMatchObject({ code: 'SPOOL_CLOSED' });
    await spool.ack(1);
    await expect(spool.open()).rejects.toMatchObject({ code: 'SPOOL_ALREADY_OPEN' });
  });

  it('finishes appends queued before close', async () => {
    const dir = spoolDir();
    const spool = newSpool({ dir });
    await spool.open();
    const appends = [1, 2, 3].map((seq) =>
      spool.append({ batchSeq: seq, payload: payloadFor(seq) }),
    );
    await spool.close();
    expect(await Promise.all(appends)).toEqual([true, true, true]);
    const reopened = newSpool({ dir });
    expect(await reopened.open()).toMatchObject({ lastBatchSeq: 3, pending: 3 });
  });

  it('closes a spool that was never opened', async () => {
    const spool = newSpool();
    await spool.close();
    await expect(spool.append({ batchSeq: 1, payload: payloadFor(1) })).rejects.toMatchObject({
      code: 'SPOOL_CLOSED',
    });
  });

  it('rejects use before open and bad batches with errors naming the field', async () => {
    const spool = newSpool();
    await expect(spool.append({ batchSeq: 1, payload: payloadFor(1) })).rejects.toMatchObject({
      code: 'SPOOL_NOT_OPEN',
    });
    await spool.open();
    await expect(spool.append({ batchSeq: 0, payload: payloadFor(1) })).rejects.toThrow(/batchSeq/);
    await expect(spool.append({ batchSeq: 1.5, payload: payloadFor(1) })).rejects.toThrow(
      /batchSeq/,
    );
    await expect(
      spool.append({ batchSeq: 1, payload: 'text' as unknown as Uint8Array }),
    ).rejects.toThrow(/payload/);
    await expect(spool.readPending(0, -1)).rejects.toThrow(/max/);
    await appendRange(spool, 5, 5);
    await expect(spool.append({ batchSeq: 4, payload: payloadFor(4) })).rejects.toBeInstanceOf(
      SpoolError,
    );
  });

  it('rejects bad options naming the option', () => {
    const dir = spoolDir();
    expect(() => new DiskSpool({ dir: '' })).toThrow(/"dir"/);
    expect(() => new DiskSpool({ dir, fsync: 'sometimes' as 'never' })).toThrow(/"fsync"/);
    expect(() => new DiskSpool({ dir, maxBytes: 0 })).toThrow(/"maxBytes"/);
    expect(() => new DiskSpool({ dir, segmentBytes: 2 ** 31 })).toThrow(/"segmentBytes"/);
    expect(() => new DiskSpool({ dir, fsyncIntervalMs: 1.5 })).toThrow(/"fsyncIntervalMs"/);
    expect(() => new DiskSpool({ dir, maxBytes: 0 })).toThrow(
      expect.objectContaining({ code: 'SPOOL_OPTION_INVALID' }) as Error,
    );
  });

  it('writes the ack state in the background, so a crash after acks replays little', async () => {
    const dir = spoolDir();
    const spool = newSpool({ dir, fsyncIntervalMs: 10 });
    await spool.open();
    await appendRange(spool, 1, 4);
    await spool.ack(1);
    await spool.ack(3);
    const state = await waitFor(
      async () => {
        const acks = parseAcks(await readJsonFile(join(dir, ACKS_FILE)));
        return acks && isAcked(acks, 3) ? acks : undefined;
      },
      5000,
      'ack of batch 3 in the ack state file',
    );
    expect([1, 2, 3, 4].map((seq) => isAcked(state, seq))).toEqual([true, false, true, false]);
  });

  it('drops a record that fails its checksum when read back, and counts it', async () => {
    const dir = spoolDir();
    const spool = newSpool({ dir });
    await spool.open();
    await appendRange(spool, 1, 3);
    const [name] = segmentFiles(dir);
    if (!name) throw new Error('no segment');
    const fd = openSync(join(dir, name), 'r+');
    writeSync(fd, Buffer.from([0xee]), 0, 1, HEADER_BYTES + 100 + HEADER_BYTES + 5);
    closeSync(fd);
    expect(seqsOf(await spool.readPending(0, 10))).toEqual([1, 3]);
    expect(spool.counters().corruptReads).toBe(1);
    expect(spool.stats().batches).toBe(2);
    expect(seqsOf(await spool.readPending(0, 10))).toEqual([1, 3]);
  });

  it('drops the batches of a segment file removed behind its back', async () => {
    const dir = spoolDir();
    const spool = newSpool({ dir, segmentBytes: 2 * (HEADER_BYTES + 100) });
    await spool.open();
    await appendRange(spool, 1, 4);
    const [first] = segmentFiles(dir);
    if (!first) throw new Error('no segment');
    unlinkSync(join(dir, first));
    expect(seqsOf(await spool.readPending(0, 10))).toEqual([3, 4]);
    expect(spool.counters().corruptReads).toBe(2);
    expect(spool.stats()).toMatchObject({ batches: 2, segments: 1 });
  });

  it('rejects an append it cannot make durable, and works again once the disk does', async () => {
    const dir = spoolDir();
    const spool = newSpool({ dir });
    const { lastBatchSeq } = await spool.open();
    await appendRange(spool, 1, 1);
    // The seq reservation cannot be written while its temp path is a directory.
    mkdirSync(join(dir, `${META_FILE}.tmp`));
    const far = lastBatchSeq + 10_000;
    await expect(spool.append({ batchSeq: far, payload: payloadFor(far) })).rejects.toMatchObject({
      code: 'SPOOL_IO',
    });
    expect(spool.counters().ioErrors).toBe(1);
    rmdirSync(join(dir, `${META_FILE}.tmp`));
    expect(await spool.append({ batchSeq: far, payload: payloadFor(far) })).toBe(true);
    expect(seqsOf(await spool.readPending(0, 10))).toEqual([1, far]);
  });

  it('rejects open with SPOOL_IO when the directory is unusable', async () => {
    const dir = spoolDir();
    writeFileSync(join(dir, 'file'), 'x');
    const spool = newSpool({ dir: join(dir, 'file', 'spool') });
    await expect(spool.open()).rejects.toMatchObject({ code: 'SPOOL_IO' });
  });
});
