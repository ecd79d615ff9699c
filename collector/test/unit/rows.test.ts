import { describe, expect, it } from 'vitest';
import {
  SESSION_INSERT_COLUMNS,
  sessionRowsForInsert,
  toSessionsCompact,
} from '../../src/store/rows.js';
import { sessionRow } from '../helpers/rows.js';

describe('toSessionsCompact', () => {
  it('writes every stored column, in SESSION_INSERT_COLUMNS order, one array per line', () => {
    const rows = [
      sessionRow({ user_id: 'zoë "q"\t\\', ended_at: null, status: 'ongoing' }),
      sessionRow({ error: 'line\nbreak', version: 3 }),
    ];
    const lines = toSessionsCompact(rows).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2);
    const stored = sessionRowsForInsert(rows);
    lines.forEach((line, i) => {
      const values = JSON.parse(line) as unknown[];
      const asObject = Object.fromEntries(SESSION_INSERT_COLUMNS.map((c, k) => [c, values[k]]));
      expect(asObject).toEqual(stored[i]);
    });
  });

  it('lists every column of a stored row exactly once', () => {
    const stored = sessionRowsForInsert([sessionRow()])[0] ?? {};
    expect([...SESSION_INSERT_COLUMNS].sort()).toEqual(Object.keys(stored).sort());
  });
});
