import type { NetworkLogFilters } from './filters/parse.js';

export const DAY_MS = 86_400_000;

/**
 * Rows one export query may hold at most, about: a day of the API benchmark's org
 * (357,000 rows) peaks at ~75 MiB in the engine (its own accounting, bisected with
 * `max_memory_usage`), a quarter of it at ~23 MiB, and the collector's RSS grows with
 * that peak. Smaller windows cost a query each (~20 ms of planning on the event loop,
 * then the read and sort before the first row), so they are no smaller than needed.
 */
export const EXPORT_WINDOW_ROWS = 100_000;

/** A UTC day start (ms) that holds candidate rows, and how many (every version). */
export interface CandidateDay {
  day: number;
  rows: number;
}

/**
 * An export runs one query per slice of a UTC day (a partition of `sessions`), newest
 * first, each sorted newest first, so the concatenation is the export's order. Why not
 * one query: `FINAL … ORDER BY started_at DESC` over many partitions merges them all at
 * once, holding read buffers for every column of every partition — measured +2.1 GiB of
 * collector RSS for a 10M-row, 30-day export (docs/benchmarks.md). A day holding more
 * than `maxRows` rows is cut into equal time slices, since a query's memory grows with
 * the rows it reads, merges and sorts. Every version of a session shares its
 * `started_at`, so each slice still collapses whole sessions.
 *
 * `days`: the days that hold candidate rows, in any order. Returns the filters of each
 * query, newest first.
 */
export function exportWindows(
  filters: NetworkLogFilters,
  days: readonly CandidateDay[],
  maxRows: number = EXPORT_WINDOW_ROWS,
): NetworkLogFilters[] {
  const rowsByDay = new Map<number, number>();
  for (const { day, rows } of days) rowsByDay.set(day, (rowsByDay.get(day) ?? 0) + rows);
  return [...rowsByDay]
    .sort(([a], [b]) => b - a)
    .flatMap(([day, rows]) => {
      const fromMs = Math.max(filters.fromMs, day);
      const toMs = filters.toMs === undefined ? day + DAY_MS : Math.min(filters.toMs, day + DAY_MS);
      if (toMs <= fromMs) return [];
      const slices = Math.min(Math.max(1, Math.ceil(rows / maxRows)), toMs - fromMs);
      const edge = (i: number) => fromMs + Math.round(((toMs - fromMs) * i) / slices);
      return Array.from({ length: slices }, (_, k) => {
        const i = slices - 1 - k;
        return { ...filters, fromMs: edge(i), toMs: edge(i + 1) };
      });
    });
}
