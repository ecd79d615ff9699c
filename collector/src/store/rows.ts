import type { AdminActionRow, SessionRow } from './store.js';

/**
 * A `sessions` row as sent to ClickHouse. `status` is left out on purpose: the
 * column's DEFAULT derives it from `ended_at`, so the stored status can never
 * disagree with it.
 */
export type StoredSessionRow = Omit<SessionRow, 'status'>;

export function sessionRowsForInsert(rows: readonly SessionRow[]): StoredSessionRow[] {
  return rows.map(({ status: _status, ...stored }) => stored);
}

/** JSONEachRow payload: one JSON object per line. */
export function toJsonEachRow(rows: readonly object[]): string {
  let out = '';
  for (const row of rows) out += `${JSON.stringify(row)}\n`;
  return out;
}

export function adminActionRowsForInsert(rows: readonly AdminActionRow[]): AdminActionRow[] {
  return [...rows];
}
