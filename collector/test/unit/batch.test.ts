import { describe, expect, it } from 'vitest';
import { PendingBatch, dedupToken } from '../../src/ingest/batch.js';
import { RowsStored } from '../../src/ingest/rows_stored.js';
import { sessionRow } from '../helpers/rows.js';

describe('dedupToken', () => {
  it('depends on the (session, version) pairs, not their order', () => {
    const a = sessionRow({ version: 1 });
    const b = sessionRow({ version: 2 });
    expect(dedupToken([a, b])).toBe(dedupToken([b, a]));
    expect(dedupToken([a, b])).not.toBe(dedupToken([a]));
    expect(dedupToken([a])).not.toBe(dedupToken([{ ...a, version: 2 }]));
    expect(dedupToken([a])).toMatch(/^connlog-v1-[0-9a-f]{64}$/);
  });
});

describe('PendingBatch', () => {
  it('collects messages and rows and remembers when it started', () => {
    const batch = new PendingBatch<string>();
    expect(batch.empty).toBe(true);
    batch.add('m1', [sessionRow(), sessionRow()], 10);
    batch.add('m2', [], 20);
    expect(batch.empty).toBe(false);
    expect(batch.messages).toEqual(['m1', 'm2']);
    expect(batch.rows).toHaveLength(2);
    expect(batch.firstAt).toBe(10);
  });
});

describe('RowsStored', () => {
  it('fans out to listeners, survives a throwing one, unsubscribes', () => {
    const errors: unknown[] = [];
    const hub = new RowsStored((err) => errors.push(err));
    const seen: number[] = [];
    const off = hub.on((rows) => seen.push(rows.length));
    hub.on(() => {
      throw new Error('listener bug');
    });
    hub.emit([sessionRow()]);
    hub.emit([]);
    off();
    hub.emit([sessionRow(), sessionRow()]);
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(2);
    expect(hub.size).toBe(1);
  });
});
