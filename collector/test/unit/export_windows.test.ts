import { describe, expect, it } from 'vitest';
import { DAY_MS, dayWindows } from '../../src/api/export_windows.js';
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

describe('dayWindows', () => {
  it('gives one window per day, newest first, clipped to the range, other filters kept', () => {
    const windows = dayWindows(filters(D + 5000, D + 2 * DAY_MS + 7000), [
      D + DAY_MS,
      D,
      D + 2 * DAY_MS,
      D,
    ]);
    expect(windows.map((w) => [w.fromMs - D, (w.toMs ?? NaN) - D])).toEqual([
      [2 * DAY_MS, 2 * DAY_MS + 7000],
      [DAY_MS, 2 * DAY_MS],
      [5000, DAY_MS],
    ]);
    expect(windows.every((w) => w.sites[0] === 'berlin')).toBe(true);
  });

  it('bounds the newest day when the range is open-ended, and drops empty windows', () => {
    expect(dayWindows(filters(D), [D + DAY_MS]).map((w) => w.toMs)).toEqual([D + 2 * DAY_MS]);
    expect(dayWindows(filters(D + DAY_MS), [D])).toEqual([]);
    expect(dayWindows(filters(D), [])).toEqual([]);
  });
});
