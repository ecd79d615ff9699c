import { formatTime } from './filters/time.js';

/**
 * `plain`: text that can never start with a formula character nor hold a quote, comma
 * or line break (a UUID, an `ip:port`), so the CSV writes it as it is.
 */
type Kind = 'string' | 'plain' | 'number' | 'time' | 'nullable_time' | 'ip';

interface Column {
  name: string;
  /** SQL over `connlog.network_logs`; a constant. */
  sql: string;
  kind: Kind;
}

const col = (name: string, kind: Kind = 'string', sql = name): Column => ({ name, sql, kind });
const ms = (name: string): string => `toUnixTimestamp64Milli(toDateTime64(${name}, 3, 'UTC'))`;

/**
 * The columns of a network-log item, in the order of the `network_logs` view (so the
 * CSV export reads like `SELECT *` plus the two address columns), and how each is
 * selected and converted. Items (JSON) and the CSV export share this list, so they never drift.
 *
 * Selected under `c_<name>` aliases: ClickHouse lets SELECT aliases shadow columns in
 * WHERE and ORDER BY, and `toUnixTimestamp64Milli(started_at) AS started_at` would
 * turn the time filters into comparisons against a number.
 */
export const ITEM_COLUMNS: readonly Column[] = [
  col('org_id'),
  col('site_id'),
  col('agent_id'),
  col('resource_id'),
  col('session_id', 'plain', 'toString(session_id)'),
  col('protocol'),
  col('client_id'),
  col('user_id'),
  col('source_ip', 'ip', 'toString(source_ip)'),
  col('source_port', 'number'),
  col('dest_ip', 'ip', 'toString(dest_ip)'),
  col('dest_port', 'number'),
  col('dest_host'),
  col('started_at', 'time', ms('started_at')),
  col('ended_at', 'nullable_time', ms('ended_at')),
  col('duration_ms', 'number'),
  col('bytes_tx', 'number'),
  col('bytes_rx', 'number'),
  col('packets_tx', 'number'),
  col('packets_rx', 'number'),
  col('close_reason'),
  col('error'),
  col('status'),
  col('retention_days', 'number'),
  col('version', 'number'),
  col('inserted_at', 'time', ms('inserted_at')),
  col('source_addr', 'plain'),
  col('dest_addr', 'plain'),
];

/** Field names of an item / header of the CSV, in order: the view's columns. */
export const ITEM_FIELDS: readonly string[] = ITEM_COLUMNS.map((c) => c.name);

export const SELECT_LIST = ITEM_COLUMNS.map((c) => `${c.sql} AS c_${c.name}`).join(', ');

export type Item = Record<string, string | number | null>;

/** `::ffff:10.0.0.1` → `10.0.0.1`: IPv4 reads as IPv4 in the API and the CSV. */
export function displayIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped?.[1] ?? ip;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  return typeof value === 'number' || typeof value === 'bigint' ? String(value) : '';
}

function convert(kind: Kind, value: unknown): string | number | null {
  switch (kind) {
    case 'string':
    case 'plain':
      return text(value);
    case 'number':
      // UInt64 may arrive quoted (output_format_json_quote_64bit_integers).
      return Number(value ?? 0);
    case 'time':
      return formatTime(Number(value));
    case 'nullable_time':
      return value === null || value === undefined ? null : formatTime(Number(value));
    case 'ip':
      return displayIp(text(value));
  }
}

/** A JSONEachRow row of `SELECT_LIST` → an item with every field in `ITEM_FIELDS` order. */
export function rowToItem(row: Record<string, unknown>): Item {
  const item: Item = {};
  for (const column of ITEM_COLUMNS) {
    item[column.name] = convert(column.kind, row[`c_${column.name}`]);
  }
  return item;
}
