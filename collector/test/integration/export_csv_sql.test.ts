import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { tempDir } from '@connlog/testkit';
import { ITEM_FIELDS, SELECT_LIST, rowToItem } from '../../src/api/columns.js';
import { csvLine } from '../../src/api/csv.js';
import { CSV_RECORD_FORMAT, CSV_RECORD_SQL, CsvRecordCounter } from '../../src/api/csv_sql.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { QueryOptions, Store } from '../../src/store/store.js';
import { sessionRow } from '../helpers/rows.js';

const log = pino({ level: 'silent' });
const dir = tempDir('export-csv-sql');
let store: Store;

const T = Date.UTC(2030, 0, 1, 12, 0, 0);
// Values that exercise every rule of csvCell and every kind of column.
const ROWS = [
  sessionRow({ started_at: T + 1 }),
  // Times: whole seconds (.000), a single-digit millisecond, the last millisecond of a
  // year, and a late year.
  sessionRow({ started_at: T, ended_at: T + 1007, status: 'completed' }),
  sessionRow({ started_at: Date.UTC(2029, 11, 31, 23, 59, 59, 999) }),
  sessionRow({ started_at: Date.UTC(2099, 1, 28, 0, 0, 0, 50), ended_at: Date.UTC(2099, 2, 1) }),
  sessionRow({
    started_at: T + 2,
    user_id: 'x,"y"',
    client_id: "=cmd|' /C calc'!A0",
    dest_host: 'multi\nline',
    error: 'a\r\nb',
    ended_at: T + 2 + 1234,
    duration_ms: 1234,
    status: 'completed',
    close_reason: 'client_closed',
    bytes_tx: 2 ** 40,
    bytes_rx: 7,
    version: 2,
  }),
  sessionRow({
    started_at: T + 3,
    source_ip: '2001:db8::10',
    dest_ip: '::',
    resource_id: '+1',
    site_id: '-x',
    agent_id: '@a',
    user_id: '\tt',
    client_id: 'zoë "q"',
    ended_at: T + 3,
    status: 'completed',
  }),
  sessionRow({ started_at: T + 4, source_ip: '::ffff:10.0.0.1', error: '""' }),
  sessionRow({
    started_at: T + 5,
    dest_ip: '::ffff:192.168.1.20',
    source_ip: '::1',
    user_id: '\rcr',
    client_id: 'a,b',
    error: 'plain-text',
    close_reason: '=',
  }),
];

beforeAll(async () => {
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  await store.insertSessions(ROWS);
});

afterAll(async () => {
  await store.close();
  dir.remove();
});

async function engineCsv(options: QueryOptions): Promise<{ text: string; records: number }> {
  const counter = new CsvRecordCounter();
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of store.queryStream(
    `SELECT ${CSV_RECORD_SQL} FROM connlog.network_logs ORDER BY started_at`,
    {},
    CSV_RECORD_FORMAT,
    options,
  )) {
    counter.push(chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  return { text: text + decoder.decode(), records: counter.records };
}

describe('CSV records rendered by the engine', () => {
  // The export streams on the bulk connection, which plans with the engine's previous
  // analyzer (chdb.ts); both analyzers must render the same bytes.
  it.each([
    ['a read-only stream', { readonly: true }],
    ['a bulk stream (the export)', { readonly: true, bulk: true }],
  ] satisfies [string, QueryOptions][])(
    'over %s are exactly what csvLine(rowToItem(row)) makes of the same rows',
    async (_, options) => {
      const rows = await store.query(
        `SELECT ${SELECT_LIST} FROM connlog.network_logs ORDER BY started_at`,
        {},
        { readonly: true },
      );
      expect(rows).toHaveLength(ROWS.length);
      const expected = rows.map((row) => {
        const item = rowToItem(row);
        return csvLine(ITEM_FIELDS.map((field) => item[field]));
      });
      const { text, records } = await engineCsv(options);
      expect(text).toBe(expected.join(''));
      expect(records).toBe(ROWS.length);
    },
  );

  it('the bulk connection plans with the previous analyzer, the others with the default', async () => {
    const analyzer = async (options: QueryOptions): Promise<string> => {
      let text = '';
      for await (const chunk of store.queryStream(
        `SELECT getSetting('enable_analyzer')`,
        {},
        'TSVRaw',
        options,
      )) {
        text += Buffer.from(chunk).toString();
      }
      return text.trim();
    };
    expect(await analyzer({ readonly: true, bulk: true })).toBe('false');
    expect(await analyzer({ readonly: true })).toBe('true');
  });
});

describe('CsvRecordCounter', () => {
  it('counts records, not line breaks inside quotes, across any chunking', () => {
    const csv = 'a,"b\nc",d\r\n"e""\n""",f\r\ng\r\n';
    for (let size = 1; size <= csv.length; size += 1) {
      const counter = new CsvRecordCounter();
      for (let i = 0; i < csv.length; i += size) {
        counter.push(Buffer.from(csv.slice(i, i + size)));
      }
      expect(counter.records).toBe(3);
    }
  });
});
