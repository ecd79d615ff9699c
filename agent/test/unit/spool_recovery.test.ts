import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES } from '../../src/spool/record.js';
import { ACKS_FILE, META_FILE } from '../../src/spool/state.js';
import { appendRange, newSpool, payloadFor, segmentFiles, spoolDir } from './spool_helpers.js';

const RECORD = HEADER_BYTES + 100;

/** A closed spool in a fresh dir holding batches `1..count` of 100 bytes. */
async function filledSpool(count: number, segmentBytes = 1 << 20): Promise<string> {
  const dir = spoolDir();
  const spool = newSpool({ dir, segmentBytes });
  await spool.open();
  await appendRange(spool, 1, count);
  await spool.close();
  return dir;
}

function lastSegment(dir: string): string {
  const name = segmentFiles(dir).at(-1);
  if (!name) throw new Error('no segment');
  return join(dir, name);
}

/** Open the spool in `dir` with a logger capturing its lines. */
async function reopen(dir: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const spool = newSpool({ dir, log: pino({ level: 'debug' }, sink) });
  const opened = await spool.open();
  const batches = await spool.readPending(0, 1000);
  for (const batch of batches)
    expect(Buffer.from(batch.payload)).toEqual(payloadFor(batch.batchSeq));
  return { spool, opened, seqs: batches.map((b) => b.batchSeq), lines };
}

describe('DiskSpool recovery', () => {
  it('skips a record whose payload was cut short at the tail, and truncates it', async () => {
    const dir = await filledSpool(5);
    const path = lastSegment(dir);
    truncateSync(path, 5 * RECORD - 3);

    const { spool, opened, seqs, lines } = await reopen(dir);
    // lastBatchSeq still covers the lost batch: its seq is never handed out again.
    expect(opened).toEqual({ lastBatchSeq: 5, pending: 4, skippedRecords: 1 });
    expect(seqs).toEqual([1, 2, 3, 4]);
    expect(statSync(path).size).toBe(4 * RECORD);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        reason: 'torn_tail',
        offset: 4 * RECORD,
        bytes: RECORD - 3,
      }),
    );
    await spool.close();

    const again = await reopen(dir);
    expect(again.opened).toEqual({ lastBatchSeq: 5, pending: 4, skippedRecords: 0 });
  });

  it('skips a header cut short at the tail', async () => {
    const dir = await filledSpool(3);
    const path = lastSegment(dir);
    const header = readFileSync(path).subarray(0, HEADER_BYTES);
    appendFileSync(path, header.subarray(0, 7));
    const { opened, seqs } = await reopen(dir);
    expect(opened).toMatchObject({ pending: 3, skippedRecords: 1 });
    expect(seqs).toEqual([1, 2, 3]);
    expect(statSync(path).size).toBe(3 * RECORD);
  });

  it('skips garbage appended after the last record, then appends after it', async () => {
    const dir = await filledSpool(4);
    const path = lastSegment(dir);
    appendFileSync(path, Buffer.from('CLS1 this is not a record at all, just noise'));
    const { spool, opened, seqs } = await reopen(dir);
    expect(opened).toEqual({ lastBatchSeq: 4, pending: 4, skippedRecords: 1 });
    expect(seqs).toEqual([1, 2, 3, 4]);
    await appendRange(spool, 5, 6);
    await spool.close();
    const again = await reopen(dir);
    expect(again.opened).toEqual({ lastBatchSeq: 6, pending: 6, skippedRecords: 0 });
    expect(again.seqs).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('skips a middle record whose CRC fails and keeps the records after it', async () => {
    const dir = await filledSpool(5);
    const path = lastSegment(dir);
    const bytes = readFileSync(path);
    const at = 2 * RECORD + HEADER_BYTES + 10; // a payload byte of batch 3
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);

    const { spool, opened, seqs, lines } = await reopen(dir);
    expect(opened).toEqual({ lastBatchSeq: 5, pending: 4, skippedRecords: 1 });
    expect(seqs).toEqual([1, 2, 4, 5]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 50, reason: 'corrupt', offset: 2 * RECORD, bytes: RECORD }),
    );
    // Middle damage is left in place (evidence), so it is reported at every open.
    expect(statSync(path).size).toBe(5 * RECORD);
    await spool.close();
    expect((await reopen(dir)).opened.skippedRecords).toBe(1);
  });

  it('resyncs after a middle record whose length field is damaged', async () => {
    const dir = await filledSpool(5);
    const path = lastSegment(dir);
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(0x7fffffff, RECORD + 4); // batch 2 claims a huge payload
    writeFileSync(path, bytes);
    const { opened, seqs } = await reopen(dir);
    expect(opened).toMatchObject({ pending: 4, skippedRecords: 1 });
    expect(seqs).toEqual([1, 3, 4, 5]);
  });

  it('reports damage at the end of an older segment as corruption, without truncating it', async () => {
    const dir = await filledSpool(6, 2 * RECORD);
    const [first] = segmentFiles(dir);
    if (!first) throw new Error('no segment');
    const path = join(dir, first);
    truncateSync(path, 2 * RECORD - 1);
    const { opened, seqs, lines } = await reopen(dir);
    expect(opened).toMatchObject({ lastBatchSeq: 6, pending: 5, skippedRecords: 1 });
    expect(seqs).toEqual([1, 3, 4, 5, 6]);
    expect(lines).toContainEqual(expect.objectContaining({ reason: 'corrupt', segment: first }));
    expect(statSync(path).size).toBe(2 * RECORD - 1);
  });

  it('drops an empty or wholly torn newest segment', async () => {
    const dir = await filledSpool(2);
    writeFileSync(join(dir, 'seg-00000000000000000003.log'), Buffer.alloc(0));
    const { spool, opened, seqs } = await reopen(dir);
    expect(opened).toMatchObject({ pending: 2, skippedRecords: 0 });
    expect(seqs).toEqual([1, 2]);
    expect(segmentFiles(dir)).toEqual(['seg-00000000000000000001.log']);
    await spool.close();

    writeFileSync(join(dir, 'seg-00000000000000000003.log'), Buffer.from('CLS1\x05'));
    const again = await reopen(dir);
    expect(again.opened).toMatchObject({ pending: 2, skippedRecords: 1 });
    expect(segmentFiles(dir)).toEqual(['seg-00000000000000000001.log']);
  });

  it('replays every stored batch when the ack state file is unreadable', async () => {
    const dir = spoolDir();
    const spool = newSpool({ dir });
    await spool.open();
    await appendRange(spool, 1, 4);
    await spool.ack(1);
    await spool.ack(3);
    await spool.close();
    writeFileSync(join(dir, ACKS_FILE), '{"version":1,"ackedThr');
    const { opened, seqs, lines } = await reopen(dir);
    expect(opened).toEqual({ lastBatchSeq: 4, pending: 4, skippedRecords: 0 });
    expect(seqs).toEqual([1, 2, 3, 4]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, file: ACKS_FILE }));
  });

  it('takes lastBatchSeq from the segments when the meta file is unreadable', async () => {
    const dir = await filledSpool(3);
    writeFileSync(join(dir, META_FILE), 'not json');
    const { opened } = await reopen(dir);
    expect(opened).toEqual({ lastBatchSeq: 3, pending: 3, skippedRecords: 0 });
  });

  it('leaves files it does not own alone', async () => {
    const dir = spoolDir();
    writeFileSync(join(dir, 'agent-id'), 'abc\n');
    const spool = newSpool({ dir });
    await spool.open();
    await appendRange(spool, 1, 1);
    await spool.ack(1);
    await spool.close();
    expect(readFileSync(join(dir, 'agent-id'), 'utf8')).toBe('abc\n');
  });
});
