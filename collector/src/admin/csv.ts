/**
 * The admin action log as CSV, streamed page by page (keyset pagination, so memory
 * stays at one page whatever the size). Cells go through the API's CSV writer, which
 * neutralizes spreadsheet formulas.
 */
import { csvLine } from '../api/csv.js';
import type { AdminActionEntry, AdminActionPage, AdminActionQuery } from './query.js';

export const ADMIN_CSV_COLUMNS = [
  'timestamp',
  'org_id',
  'action',
  'actor_type',
  'actor',
  'actor_id',
  'outcome',
  'metadata',
] as const;

export interface AdminCsvOptions {
  /** Rows per page read from ClickHouse. @default 1000 */
  pageSize?: number;
  /** Stop after this many rows (the export is then cut; `onTruncated` says so). @default 1000000 */
  maxRows?: number;
  onTruncated?: () => void;
  signal?: AbortSignal;
}

/** Header line, then one line per action, newest first. */
export async function* adminActionsCsv(
  query: (q: AdminActionQuery) => Promise<AdminActionPage>,
  filters: Omit<AdminActionQuery, 'limit' | 'cursor'>,
  options: AdminCsvOptions = {},
): AsyncGenerator<string> {
  const pageSize = options.pageSize ?? 1000;
  const maxRows = options.maxRows ?? 1_000_000;
  yield csvLine(ADMIN_CSV_COLUMNS);
  let cursor: string | undefined;
  let rows = 0;
  for (;;) {
    if (options.signal?.aborted) return;
    const page = await query({
      ...filters,
      limit: Math.min(pageSize, maxRows - rows),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    let chunk = '';
    for (const item of page.items) chunk += csvLine(cells(item));
    if (chunk !== '') yield chunk;
    rows += page.items.length;
    if (page.nextCursor === undefined) return;
    if (rows >= maxRows) {
      options.onTruncated?.();
      return;
    }
    cursor = page.nextCursor;
  }
}

function cells(item: AdminActionEntry): string[] {
  return [
    item.timestamp,
    item.orgId,
    item.action,
    item.actorType,
    item.actor,
    item.actorId,
    item.outcome,
    JSON.stringify(item.metadata),
  ];
}
