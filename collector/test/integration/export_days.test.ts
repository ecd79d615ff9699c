import { Registry } from '@connlog/metrics';
import { tempDir } from '@connlog/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import { DAY_MS } from '../../src/api/export_windows.js';
import { createChdbStore } from '../../src/store/chdb.js';
import type { SessionRow, Store } from '../../src/store/store.js';
import { sessionRow } from '../helpers/rows.js';

/** The CSV export runs one query per day: rows across days, in order, each once. */

const log = pino({ level: 'silent' });
const dir = tempDir('export-days');
let store: Store;
let server: ApiServer;
let base: string;

const DAY0 = Math.floor(Date.now() / DAY_MS) * DAY_MS - 7 * DAY_MS;
const at = (day: number, ms: number): number => DAY0 + day * DAY_MS + ms;

// Newest first, as the export must list them.
const EXPECTED: SessionRow[] = [
  sessionRow({ started_at: at(3, 0) }), // exactly midnight: the newest day's first instant
  sessionRow({ started_at: at(2, DAY_MS - 1) }), // the last instant of a day
  sessionRow({ started_at: at(2, 1000), user_id: 'has "quotes", and\nlines' }),
  sessionRow({ started_at: at(0, 5000), ended_at: at(0, 9000), status: 'completed', version: 2 }),
];
const OTHER_ORG = sessionRow({ org_id: 'other', started_at: at(1, 0) });
const TOO_NEW = sessionRow({ started_at: at(5, 0) });

beforeAll(async () => {
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  const oldest = EXPECTED[3] as SessionRow;
  // An older version of the oldest session, in its own insert: one row must come out.
  await store.insertSessions([{ ...oldest, ended_at: null, status: 'ongoing', version: 1 }]);
  await store.insertSessions([...EXPECTED, OTHER_ORG, TOO_NEW]);
  server = createApiServer({
    store,
    log,
    metrics: new Registry(),
    config: { http: { listen: '127.0.0.1:0' } },
    health: () => ({ ok: true, store: 'embedded' }),
    events: { onRowsStored: () => () => undefined },
  });
  base = `http://${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
  await store.close();
  dir.remove();
});

async function exportIds(query: string): Promise<string[]> {
  const res = await fetch(`${base}/api/v1/orgs/acme/network-logs/export?${query}`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return [...text.matchAll(/\r\nacme,[^,]*,[^,]*,[^,]*,([0-9a-f-]{36}),/g)].map((m) => m[1] ?? '');
}

describe('export across days', () => {
  it('lists every matching session once, newest first, across day boundaries', async () => {
    const from = new Date(at(0, 0)).toISOString();
    const to = new Date(at(4, 0)).toISOString();
    expect(await exportIds(`from=${from}&to=${to}`)).toEqual(EXPECTED.map((r) => r.session_id));
  });

  it('keeps the bounds and the other filters inside each day', async () => {
    const from = new Date(at(0, 6000)).toISOString();
    const to = new Date(at(3, 0)).toISOString();
    expect(await exportIds(`from=${from}&to=${to}`)).toEqual(
      [EXPECTED[1], EXPECTED[2]].map((r) => r?.session_id),
    );
    const all = new Date(at(0, 0)).toISOString();
    expect(await exportIds(`from=${all}&status=completed`)).toEqual([EXPECTED[3]?.session_id]);
  });
});
