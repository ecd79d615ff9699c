import { describe, expect, it } from 'vitest';
import { DAY_MS, exportWindows } from '../../src/api/export_windows.js';
import type { NetworkLogFilters } from '../../src/api/filters/parse.js';

const D = Date.UTC(2030, 0, 10);

function filters(fromMs: number, toMs?: number): NetworkLogFilters {
  return {
    fromMs,
    ...(toMs === undefined ? {} : { toMs }),
    sites: ['berlin'],
    resources: [],
    clients: [],
    users: [],
    protocols: [],
    sources: [],
    dests: [],
    destPorts: [],
    statuses: [],
    closeReasons: [],
    sessionIds: [],
  };
}

const days = (...starts: number[]) => starts.map((day) => ({ day, rows: 10 }));
const span = (w: NetworkLogFilters) => [w.fromMs - D, (w.toMs ?? NaN) - D];

describe('exportWindows', () => {
  it('gives one window per day, newest first, clipped to the range, other filters kept', () => {
    const windows = exportWindows(
      filters(D + 5000, D + 2 * DAY_MS + 7000),
      days(D + DAY_MS, D, D + 2 * DAY_MS, D),
    );
    expect(windows.map(span)).toEqual([
      [2 * DAY_MS, 2 * DAY_MS + 7000],
      [DAY_MS, 2 * DAY_MS],
      [5000, DAY_MS],
    ]);
    expect(windows.every((w) => w.sites[0] === 'berlin')).toBe(true);
  });

  it('bounds the newest day when the range is open-ended, and drops empty windows', () => {
    expect(exportWindows(filters(D), days(D + DAY_MS)).map((w) => w.toMs)).toEqual([
      D + 2 * DAY_MS,
    ]);
    expect(exportWindows(filters(D + DAY_MS), days(D))).toEqual([]);
    expect(exportWindows(filters(D), [])).toEqual([]);
  });

  it('cuts a day with more rows than the bound into equal slices, newest first, gapless', () => {
    const windows = exportWindows(
      filters(D + 1000, D + DAY_MS + 4000),
      [
        { day: D, rows: 250 },
        { day: D + DAY_MS, rows: 100 },
      ],
      100,
    );
    const first = DAY_MS - 1000;
    expect(windows.map(span)).toEqual([
      [DAY_MS, DAY_MS + 4000],
      [1000 + Math.round((first * 2) / 3), DAY_MS],
      [1000 + Math.round(first / 3), 1000 + Math.round((first * 2) / 3)],
      [1000, 1000 + Math.round(first / 3)],
    ]);
  });

  it('adds up the counts of a day listed twice, and never makes an empty slice', () => {
    const twice = exportWindows(
      filters(D),
      [
        { day: D, rows: 60 },
        { day: D, rows: 60 },
      ],
      100,
    );
    expect(twice).toHaveLength(2);
    const tiny = exportWindows(filters(D, D + 3), [{ day: D, rows: 1000 }], 1);
    expect(tiny.map(span)).toEqual([
      [2, 3],
      [1, 2],
      [0, 1],
    ]);
  });
});
