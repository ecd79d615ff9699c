import { describe, expect, it } from 'vitest';
import { CollectorError } from '../../src/errors.js';
import { SESSION_INSERT_COLUMNS, sessionRowsForInsert } from '../../src/store/rows.js';
import { SESSIONS_ROW_BINARY_STRUCTURE, toSessionsRowBinary } from '../../src/store/row_binary.js';
import { sessionRow } from '../helpers/rows.js';

/** A RowBinary reader for the structure under test (independent of the writer). */
function readRows(payload: Buffer, structure: string): Record<string, unknown>[] {
  const columns = structure.split(/, (?=[a-z_]+ )/u).map((part) => {
    const space = part.indexOf(' ');
    return { name: part.slice(0, space), type: part.slice(space + 1) };
  });
  const rows: Record<string, unknown>[] = [];
  let at = 0;
  const u64 = (): number => {
    const low = payload.readUInt32LE(at);
    const high = payload.readUInt32LE(at + 4);
    at += 8;
    return high * 2 ** 32 + low;
  };
  while (at < payload.length) {
    const row: Record<string, unknown> = {};
    for (const { name, type } of columns) {
      if (type === 'String') {
        let length = 0;
        let shift = 0;
        for (;;) {
          const byte = payload[at] ?? 0;
          at += 1;
          length += (byte & 0x7f) * 2 ** shift;
          shift += 7;
          if (byte < 0x80) break;
        }
        row[name] = payload.toString('utf8', at, at + length);
        at += length;
      } else if (type === 'UInt16') {
        row[name] = payload.readUInt16LE(at);
        at += 2;
      } else if (type === 'UInt64' || type === "DateTime64(3, 'UTC')") {
        row[name] = u64();
      } else if (type === "Nullable(DateTime64(3, 'UTC'))") {
        const isNull = payload[at] === 1;
        at += 1;
        row[name] = isNull ? null : u64();
      } else {
        throw new Error(`reader does not know ${type}`);
      }
    }
    rows.push(row);
  }
  return rows;
}

describe('toSessionsRowBinary', () => {
  it('describes every inserted column, in SESSION_INSERT_COLUMNS order', () => {
    const names = SESSIONS_ROW_BINARY_STRUCTURE.split(/, (?=[a-z_]+ )/u).map(
      (part) => part.split(' ')[0],
    );
    expect(names).toEqual([...SESSION_INSERT_COLUMNS]);
  });

  it('round-trips rows with awkward text, nulls and large counters', () => {
    const rows = [
      sessionRow({ user_id: 'zoë "q"\t\\', client_id: '日本語🙂', ended_at: null }),
      sessionRow({
        error: 'x'.repeat(127),
        dest_host: 'y'.repeat(128),
        client_id: 'é'.repeat(200),
        ended_at: Date.UTC(2030, 0, 1, 12, 0, 5),
        status: 'completed',
        bytes_tx: Number.MAX_SAFE_INTEGER,
        bytes_rx: 2 ** 32,
        packets_tx: 2 ** 32 - 1,
        source_port: 65535,
        dest_port: 0,
        retention_days: 65535,
        version: 7,
      }),
      sessionRow({ user_id: '', error: 'nul\u0000inside', source_ip: '2001:db8::1' }),
    ];
    const back = readRows(toSessionsRowBinary(rows), SESSIONS_ROW_BINARY_STRUCTURE);
    expect(back).toEqual(sessionRowsForInsert(rows));
  });

  it('writes lengths as LEB128 and integers little-endian', () => {
    const payload = toSessionsRowBinary([sessionRow({ org_id: 'é'.repeat(100) })]);
    // 200 UTF-8 bytes: length 200 = 0xc8 0x01.
    expect([...payload.subarray(0, 3)]).toEqual([0xc8, 0x01, 0xc3]);
  });

  it('refuses a value that does not fit its column, naming it', () => {
    for (const [row, column] of [
      [sessionRow({ source_port: 70000 }), 'source_port'],
      [sessionRow({ bytes_tx: -1 }), 'bytes_tx'],
      [sessionRow({ version: 1.5 }), 'version'],
      [sessionRow({ duration_ms: 2 ** 60 }), 'duration_ms'],
    ] as const) {
      expect(() => toSessionsRowBinary([row])).toThrow(CollectorError);
      expect(() => toSessionsRowBinary([row])).toThrow(`sessions.${column}`);
    }
  });

  it('grows past its first guess of the payload size', () => {
    const rows = Array.from({ length: 3 }, () => sessionRow({ error: 'e'.repeat(2000) }));
    expect(readRows(toSessionsRowBinary(rows), SESSIONS_ROW_BINARY_STRUCTURE)).toHaveLength(3);
  });
});
