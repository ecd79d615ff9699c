import { request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from '@connlog/metrics';
import { tempDir } from '@connlog/testkit';
import { ITEM_FIELDS } from '../../src/api/columns.js';
import { csvLine } from '../../src/api/csv.js';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import { createChdbStore } from '../../src/store/chdb.js';
import { SESSION_INSERT_COLUMNS } from '../../src/store/rows.js';
import type { Store } from '../../src/store/store.js';

/**
 * A 1,000,000-row CSV export over real HTTP, from the real embedded engine, with
 * flat memory. What is asserted, and why:
 * - every row arrives: exactly 1,000,000 records after the header, newest first;
 * - the JS side's memory stays flat: the V8 heap plus the Buffers it references
 *   (`heapUsed + arrayBuffers`; the CSV chunks are Buffers, whose bytes live outside
 *   the heap), measured after a full GC every 256 chunks all along the stream, stays
 *   within 64 MiB of where it started (seen: 5-25 MiB, the chunks in flight between
 *   engine, route and sockets, not growing with the rows); before any GC (garbage
 *   included) it never rises more than 150 MiB. A route, store or client that kept
 *   the rows (~350 MB of CSV here) fails both: keeping the chunks in this test's
 *   client measured +270 MiB.
 * The engine runs in this process too (chDB), and its memory is native: RSS covers
 * its read buffers and sort spill, which are bounded by the stream connection's
 * settings (store/chdb.ts) and measured by bench/api.mjs, not asserted here (RSS also
 * holds whatever the allocator keeps). The test only prints RSS growth. Nothing here
 * times anything.
 */

const ROWS = 1_000_000;
/** The sessions start 200 ms apart from T0: about 2.3 days, so several day partitions. */
const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);
const STEP_MS = 200;
const MiB = 1024 * 1024;
/** JS memory after GC may grow this much during the export, no more. */
const RETAINED_BOUND = 64 * MiB;
/** JS memory before GC (garbage included) may grow this much, no more. */
const UNCOLLECTED_BOUND = 150 * MiB;

// A full GC on demand, without changing how the test runner starts workers.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const log = pino({ level: 'silent' });
const dir = tempDir('export-large');
let store: Store;
let server: ApiServer;
let base: string;

/** The session id of row `n` (deterministic, so the test knows the first and last). */
function sessionId(n: number): string {
  return `0190a8a0-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;
}

beforeAll(async () => {
  store = createChdbStore({ dataDir: dir.path, database: 'connlog', log });
  await store.migrate();
  // Test setup, not user input: the engine makes the rows itself, in one statement.
  const values: Record<(typeof SESSION_INSERT_COLUMNS)[number], string> = {
    org_id: "'big'",
    site_id: "concat('site-', toString(number % 4))",
    agent_id: "'agent-1'",
    resource_id: "'db'",
    session_id: "toUUID(concat('0190a8a0-0000-7000-8000-', leftPad(lower(hex(number)), 12, '0')))",
    protocol: "if(number % 3 = 0, 'udp', 'tcp')",
    client_id: "concat('laptop-', toString(number % 100))",
    user_id: '\'alice "a", b\'',
    source_ip: "toIPv6('::ffff:10.0.0.1')",
    source_port: '40000 + number % 20000',
    dest_ip: "toIPv6('::ffff:10.1.0.5')",
    dest_port: '5432',
    dest_host: "'db.internal'",
    started_at: "fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * {step:Int64}), 'UTC')",
    ended_at: "fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * {step:Int64} + 1500), 'UTC')",
    duration_ms: '1500',
    bytes_tx: 'number',
    bytes_rx: 'number * 2',
    packets_tx: '3',
    packets_rx: '4',
    close_reason: "'client_closed'",
    error: "''",
    retention_days: '30',
    version: '2',
  };
  await store.exec(
    `INSERT INTO connlog.sessions (${SESSION_INSERT_COLUMNS.join(', ')})
     SELECT ${SESSION_INSERT_COLUMNS.map((column) => values[column]).join(', ')}
     FROM numbers({rows:UInt64})`,
    { t0: T0, step: STEP_MS, rows: ROWS },
  );
  server = createApiServer({
    store,
    log,
    metrics: new Registry(),
    config: { http: { listen: '127.0.0.1:0' } },
    health: () => ({ ok: true }),
    events: { onRowsStored: () => () => undefined },
  });
  base = `http://${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
  await store.close();
  dir.remove();
});

interface ExportReading {
  status: number;
  lines: number;
  /** The first three lines (header and the two newest rows). */
  head: string[];
  /** The last line. */
  tail: string;
  /** JS memory after a full GC: before the request, and the highest seen during it. */
  retained: { before: number; max: number; samples: number };
  /** JS memory before any GC: the highest seen during the stream. */
  uncollectedMax: number;
  rssBefore: number;
  rssMax: number;
}

/**
 * Memory the JS side holds: the V8 heap plus the Buffers and ArrayBuffers it
 * references (their bytes live outside the heap; the CSV chunks are such bytes).
 */
function jsMemory(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** GET `path` and read the body chunk by chunk: lines counted, nothing kept but the ends. */
function readExport(path: string): Promise<ExportReading> {
  gc();
  const reading: ExportReading = {
    status: 0,
    lines: 0,
    head: [],
    tail: '',
    retained: { before: jsMemory(), max: 0, samples: 0 },
    uncollectedMax: 0,
    rssBefore: process.memoryUsage().rss,
    rssMax: 0,
  };
  reading.retained.max = reading.retained.before;
  let headText = '';
  let lastText = '';
  let chunks = 0;
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, (res) => {
      reading.status = res.statusCode ?? 0;
      res.on('data', (chunk: Buffer) => {
        chunks += 1;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) reading.lines += 1;
        if (headText.split('\r\n').length <= 3) headText += chunk.toString('utf8');
        // Enough to hold the last line; older text is dropped as it goes.
        lastText = (lastText + chunk.toString('utf8')).slice(-4096);
        reading.uncollectedMax = Math.max(reading.uncollectedMax, jsMemory());
        reading.rssMax = Math.max(reading.rssMax, process.memoryUsage().rss);
        if (chunks % 256 === 0) {
          gc();
          reading.retained.max = Math.max(reading.retained.max, jsMemory());
          reading.retained.samples += 1;
        }
      });
      res.on('end', () => {
        reading.head = headText.split('\r\n').slice(0, 3);
        reading.tail = lastText.trimEnd().split('\r\n').at(-1) ?? '';
        resolve(reading);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('CSV export of 1,000,000 rows', () => {
  it('streams every row, newest first, with flat JS memory', async () => {
    const from = new Date(T0).toISOString();
    const to = new Date(T0 + ROWS * STEP_MS + 1000).toISOString();
    const reading = await readExport(`/api/v1/orgs/big/network-logs/export?from=${from}&to=${to}`);

    expect(reading.status).toBe(200);
    // Header + one CRLF-ended line per row: no value here holds a line break.
    expect(reading.lines).toBe(ROWS + 1);
    expect(reading.head[0]).toBe(csvLine(ITEM_FIELDS).trimEnd());
    expect(reading.head[1]).toContain(sessionId(ROWS - 1));
    expect(reading.head[2]).toContain(sessionId(ROWS - 2));
    expect(reading.tail).toContain(sessionId(0));
    expect(reading.head[1]).toContain('"alice ""a"", b"');

    const growth = {
      retainedMiB: (reading.retained.max - reading.retained.before) / MiB,
      uncollectedMiB: (reading.uncollectedMax - reading.retained.before) / MiB,
      rssMiB: (reading.rssMax - reading.rssBefore) / MiB,
    };
    // For the record (CI logs); RSS is not asserted (see the top of the file).
    console.info(
      `export of ${ROWS} rows: JS memory after GC +${growth.retainedMiB.toFixed(1)} MiB at most (${reading.retained.samples} samples), before GC +${growth.uncollectedMiB.toFixed(1)} MiB, RSS +${growth.rssMiB.toFixed(0)} MiB`,
    );
    expect(reading.retained.samples).toBeGreaterThan(10);
    expect(reading.retained.max - reading.retained.before).toBeLessThan(RETAINED_BOUND);
    expect(reading.uncollectedMax - reading.retained.before).toBeLessThan(UNCOLLECTED_BOUND);
  });
});
