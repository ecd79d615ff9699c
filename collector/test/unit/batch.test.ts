import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PendingBatch, dedupToken, dedupTokenOfKeys } from '../../src/ingest/batch.js';
import { RowsPayload } from '../../src/store/payload.js';
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

  it('is the SHA-256 of the sorted `session_id:version` lines', () => {
    const keys = ['b:2', 'a:1', 'a:10'];
    const expected = createHash('sha256').update('a:1\na:10\nb:2\n').digest('hex');
    expect(dedupTokenOfKeys(keys)).toBe(`connlog-v1-${expected}`);
  });
});

describe('PendingBatch', () => {
  it('collects messages and rows and remembers when it started', () => {
    const batch = new PendingBatch<string>(new RowsPayload());
    expect(batch.empty).toBe(true);
    const rows = [sessionRow(), sessionRow()];
    batch.add('m1', rows, 10);
    batch.add('m2', [], 20);
    expect(batch.empty).toBe(false);
    expect(batch.messages).toEqual(['m1', 'm2']);
    expect(batch.rows).toHaveLength(2);
    expect(batch.rowCount).toBe(2);
    expect(batch.firstAt).toBe(10);
    expect(dedupTokenOfKeys(batch.keys)).toBe(dedupToken(rows));
  });

  it('encodes rows into its payload and keeps the objects only while asked to', () => {
    const payload = new RowsPayload();
    let keep = false;
    const batch = new PendingBatch<string>(payload, () => keep);
    const first = [sessionRow(), sessionRow()];
    const second = [sessionRow()];
    batch.add('m1', first, 10);
    keep = true;
    batch.add('m2', second, 20);
    expect(payload.rows).toHaveLength(3);
    expect(batch.rowCount).toBe(3);
    expect(batch.rows).toEqual(second);
    expect(dedupTokenOfKeys(batch.keys)).toBe(dedupToken([...first, ...second]));
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
