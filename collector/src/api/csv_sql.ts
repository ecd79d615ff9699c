/**
 * The CSV export's records rendered by ClickHouse itself: one string per row holding
 * exactly what `csvLine(rowToItem(row))` would produce (same cells, RFC 4180 quoting
 * only where needed, formula neutralization, IPv4 shown as IPv4, RFC 3339 times with
 * milliseconds, CRLF). Why in SQL: converting rows in JavaScript (JSON.parse, item,
 * csvLine) cost ~20 µs per row and kept garbage on the heap — an export ran at ~20k
 * rows/s; rendered by the engine it streams through untouched (docs/benchmarks.md).
 * The JavaScript functions stay the reference; an integration test compares the two.
 */
import { ITEM_COLUMNS } from './columns.js';

/**
 * `x` as a CSV cell, like `csvCell` for text: `'` before a formula start, quotes if
 * needed. Written without regular expressions: a set lookup of the first byte and a
 * substring search cost less per row than `match()`, and the export's rate is bound by
 * the engine's CPU (docs/benchmarks.md).
 */
function textCell(x: string): string {
  const quoted = (s: string): string =>
    String.raw`if(multiSearchAny(${s}, ['"', ',', '\r', '\n']), concat('"', replaceAll(${s}, '"', '""'), '"'), ${s})`;
  const formula = String.raw`substring(${x}, 1, 1) IN ('=', '+', '-', '@', '\t', '\r')`;
  return `if(${formula}, ${quoted(`concat('''', ${x})`)}, ${quoted(x)})`;
}

/** `formatTime`: `2024-05-01T12:00:00.000Z`. */
function timeCell(t: string): string {
  return `concat(formatDateTime(${t}, '%Y-%m-%dT%H:%i:%S', 'UTC'), '.', leftPad(toString(toUnixTimestamp64Milli(${t}) % 1000), 3, '0'), 'Z')`;
}

function cell(column: (typeof ITEM_COLUMNS)[number]): string {
  const dt = `toDateTime64(${column.name}, 3, 'UTC')`;
  switch (column.kind) {
    case 'string':
      return textCell(`toString(${column.sql})`);
    case 'number':
    case 'plain':
      return `toString(${column.sql})`;
    case 'time':
      return timeCell(dt);
    case 'nullable_time':
      return `if(isNull(${column.name}), '', ${timeCell(`assumeNotNull(${dt})`)})`;
    case 'ip': {
      // `displayIp`; an IP's text never needs quoting or neutralizing.
      const ip = column.sql;
      return `if(startsWith(${ip}, '::ffff:') AND isIPv4String(substring(${ip}, 8)), substring(${ip}, 8), ${ip})`;
    }
  }
}

/**
 * One CSV record per row, CR included: selected with format `TSVRaw`, which adds the
 * LF and writes the string unescaped.
 */
export const CSV_RECORD_SQL = `concat(${ITEM_COLUMNS.map(cell).join(`, ',', `)}, '\\r') AS csv`;

/** The stream format that carries `CSV_RECORD_SQL` through as it is. */
export const CSV_RECORD_FORMAT = 'TSVRaw';

/**
 * Counts CSV records in a byte stream: LFs outside quoted fields (a quoted field may
 * hold line breaks; `""` inside one closes and reopens the quotes, which keeps the
 * parity right). State carries across chunks.
 */
export class CsvRecordCounter {
  records = 0;
  private inQuotes = false;

  push(chunk: Uint8Array): void {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    let quote = bytes.indexOf(0x22, i);
    while (i < bytes.length) {
      if (this.inQuotes) {
        if (quote < 0) return;
        this.inQuotes = false;
        i = quote + 1;
        quote = bytes.indexOf(0x22, i);
        continue;
      }
      const newline = bytes.indexOf(0x0a, i);
      if (newline >= 0 && (quote < 0 || newline < quote)) {
        this.records += 1;
        i = newline + 1;
        continue;
      }
      if (quote < 0) return;
      this.inQuotes = true;
      i = quote + 1;
      quote = bytes.indexOf(0x22, i);
    }
  }
}
