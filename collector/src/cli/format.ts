import { InvalidArgumentError } from 'commander';
import { ITEM_FIELDS } from '../api/columns.js';
import { csvLine } from '../api/csv.js';

/**
 * How `logs` and `tail` print sessions: `table` for people (fixed columns, so a tail
 * lines up without knowing what comes next; long values cut with `…`), `json` as one
 * item per line (jq-friendly), `csv` with the export's header and columns.
 */

export const FORMATS = ['table', 'json', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

export type Item = Record<string, unknown>;

interface Column {
  title: string;
  width: number;
  value: (item: Item) => string;
  right?: boolean;
}

const text = (value: unknown): string =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';

/** 1536 → `1.5K`: bytes as people read them; exact values are in json/csv. */
export function humanBytes(value: unknown): string {
  const n = Number(value);
  if (!Number.isFinite(n)) return '';
  const units = ['', 'K', 'M', 'G', 'T'];
  let v = n;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit += 1;
  }
  return unit === 0 ? String(n) : `${v.toFixed(v < 10 ? 1 : 0)}${units[unit] ?? ''}`;
}

/** 190333 → `3m10s`. */
export function humanDuration(value: unknown): string {
  const ms = Number(value);
  if (!Number.isFinite(ms)) return '';
  if (ms < 1000) return `${ms}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}

const COLUMNS: Column[] = [
  { title: 'STARTED', width: 19, value: (i) => text(i.started_at).replace('T', ' ').slice(0, 19) },
  { title: 'STATUS', width: 9, value: (i) => text(i.status) },
  { title: 'SITE', width: 10, value: (i) => text(i.site_id) },
  { title: 'RESOURCE', width: 10, value: (i) => text(i.resource_id) },
  { title: 'PROTO', width: 5, value: (i) => text(i.protocol) },
  { title: 'USER', width: 12, value: (i) => text(i.user_id) },
  { title: 'SOURCE', width: 22, value: (i) => text(i.source_addr) },
  { title: 'DEST', width: 22, value: (i) => text(i.dest_addr) },
  { title: 'TX', width: 6, value: (i) => humanBytes(i.bytes_tx), right: true },
  { title: 'RX', width: 6, value: (i) => humanBytes(i.bytes_rx), right: true },
  {
    title: 'DURATION',
    width: 8,
    value: (i) => (i.ended_at === null ? '' : humanDuration(i.duration_ms)),
    right: true,
  },
  { title: 'CLOSE', width: 14, value: (i) => text(i.close_reason) },
];

function cell(column: Column, value: string): string {
  // Control characters would break the line; values come from the network.
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, ' ');
  const cut = clean.length > column.width ? `${clean.slice(0, column.width - 1)}…` : clean;
  return column.right ? cut.padStart(column.width) : cut.padEnd(column.width);
}

function tableLine(values: string[]): string {
  return `${values.join('  ').trimEnd()}\n`;
}

/** Text printed before the first item. */
export function header(format: Format): string {
  if (format === 'table') return tableLine(COLUMNS.map((c) => cell(c, c.title)));
  if (format === 'csv') return csvLine(ITEM_FIELDS);
  return '';
}

/** One item as a line of `format`. */
export function formatItem(format: Format, item: Item): string {
  switch (format) {
    case 'table':
      return tableLine(COLUMNS.map((c) => cell(c, c.value(item))));
    case 'json':
      return `${JSON.stringify(item)}\n`;
    case 'csv':
      return csvLine(
        ITEM_FIELDS.map((field) => {
          const value = item[field];
          return typeof value === 'number' || typeof value === 'string' ? value : null;
        }),
      );
  }
}

export function parseFormat(value: string): Format {
  if ((FORMATS as readonly string[]).includes(value)) return value as Format;
  throw new InvalidArgumentError(`"${value}" is not one of ${FORMATS.join(', ')}`);
}
