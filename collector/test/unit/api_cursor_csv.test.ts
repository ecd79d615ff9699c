import { describe, expect, it } from 'vitest';
import { ITEM_FIELDS, displayIp, rowToItem } from '../../src/api/columns.js';
import { SESSION_COLUMNS } from '../../src/store/schema.js';
import { csvCell, csvLine } from '../../src/api/csv.js';
import { decodeCursor, encodeCursor } from '../../src/api/cursor.js';
import { splitLines } from '../../src/api/lines.js';

describe('cursor', () => {
  const cursor = { startedAtMs: 1714564800123, sessionId: '0190a8a0-0000-7000-8000-00000000000a' };

  it('round-trips and is url-safe', () => {
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text)).toEqual(cursor);
  });

  it.each([
    '',
    'not base64!',
    Buffer.from('v2:1:0190a8a0-0000-7000-8000-00000000000a').toString('base64url'),
    Buffer.from('v1:-1:0190a8a0-0000-7000-8000-00000000000a').toString('base64url'),
    Buffer.from('v1:1:not-a-uuid').toString('base64url'),
    Buffer.from('v1:1:0190a8a0-0000-7000-8000-00000000000a:extra').toString('base64url'),
    'A'.repeat(300),
  ])('refuses %j', (text) => {
    expect(decodeCursor(text)).toBeUndefined();
  });
});

describe('csv', () => {
  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\rhere', '"cr\rhere"'],
    ['=1+2', "'=1+2"],
    ['+SUM(A1)', "'+SUM(A1)"],
    ['-2+3', "'-2+3"],
    ['@cmd', "'@cmd"],
    ['\tTAB', "'\tTAB"],
    ['\r=x', `"'\r=x"`],
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['a=b', 'a=b'],
  ])('%j → %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('writes numbers as numbers, null as empty', () => {
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(0)).toBe('0');
    expect(csvCell(null)).toBe('');
    expect(csvLine(['a', 1, null, 'b,c'])).toBe('a,1,,"b,c"\r\n');
  });
});

describe('columns', () => {
  it('shows IPv4 as IPv4', () => {
    expect(displayIp('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(displayIp('2001:db8::1')).toBe('2001:db8::1');
  });

  it('carries exactly the columns of the network_logs view, in its order', () => {
    expect(ITEM_FIELDS).toEqual([...SESSION_COLUMNS]);
  });

  it('converts a row into an item with every field, in order', () => {
    const row: Record<string, unknown> = {};
    for (const name of ITEM_FIELDS) row[`c_${name}`] = name.endsWith('_id') ? 'x' : 0;
    Object.assign(row, {
      c_source_ip: '::ffff:10.0.0.1',
      c_source_port: 40000,
      c_dest_ip: '2001:db8::5',
      c_dest_port: '443',
      c_started_at: '1714564800123',
      c_ended_at: null,
      c_inserted_at: 1714564800999,
      c_bytes_tx: '18446744073709',
      c_source_addr: '10.0.0.1:40000',
      c_dest_addr: '[2001:db8::5]:443',
    });
    const item = rowToItem(row);
    expect(Object.keys(item)).toEqual(ITEM_FIELDS);
    expect(item).toMatchObject({
      source_ip: '10.0.0.1',
      source_addr: '10.0.0.1:40000',
      dest_addr: '[2001:db8::5]:443',
      dest_port: 443,
      started_at: '2024-05-01T12:00:00.123Z',
      ended_at: null,
      bytes_tx: 18446744073709,
    });
  });
});

describe('splitLines', () => {
  async function* chunks(...parts: (string | Uint8Array)[]) {
    for (const part of parts) {
      await Promise.resolve();
      yield typeof part === 'string' ? Buffer.from(part) : part;
    }
  }

  it('splits across chunk borders, including inside a multi-byte character', async () => {
    const euro = Buffer.from('€');
    const out: string[] = [];
    for await (const line of splitLines(
      chunks('{"a":1}\n{"b":', '2}\n', euro.subarray(0, 1), euro.subarray(1), '\n\nlast'),
    )) {
      out.push(line);
    }
    expect(out).toEqual(['{"a":1}', '{"b":2}', '€', 'last']);
  });

  it('refuses a line over the bound', async () => {
    const run = async () => {
      const lines: string[] = [];
      for await (const line of splitLines(chunks('x'.repeat(20), 'y'.repeat(20)), 30)) {
        lines.push(line);
      }
      return lines;
    };
    await expect(run()).rejects.toThrow(/over 30/);
  });
});
