import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { tempDir } from '@connlog/testkit';
import { createChdbStore } from '../../src/store/chdb.js';
import type { SessionRow, Store } from '../../src/store/store.js';
import { codeOf } from '../helpers/store_contract.js';
import { sessionRow } from '../helpers/rows.js';

/**
 * The embedded engine's two session insert paths — RowBinary staged in a file (the
 * default) and JSONCompactEachRow text — must store the same bits. Both stores share
 * one data dir (chDB binds one per process); each inserts the same rows under its own
 * org, and every column is compared in its raw form.
 */

const log = pino({ level: 'silent' });
const dir = tempDir('store-rowbinary');
const stagingDir = join(dir.path, 'staging');
let binary: Store;
let text: Store;

/** Rows that probe every column type: addresses, ids, times, nulls, counters, text. */
function probeRows(org: string): SessionRow[] {
  const at = Date.UTC(2030, 0, 1, 12, 0, 0);
  const base = { org_id: org, started_at: at };
  const rows: Partial<SessionRow>[] = [
    {},
    { source_ip: '2001:db8::1', dest_ip: '::', dest_port: 443 },
    { source_ip: '::1', dest_ip: 'fe80::1:2:3:4', dest_host: 'intranet.corp' },
    { source_ip: '::ffff:255.255.255.255', dest_ip: '::ffff:0.0.0.0', source_port: 65535 },
    { source_ip: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', dest_port: 0 },
    {
      ended_at: at + 1234,
      duration_ms: 1234,
      status: 'completed',
      close_reason: 'client_closed',
      bytes_tx: Number.MAX_SAFE_INTEGER,
      bytes_rx: 2 ** 32,
      packets_tx: 2 ** 32 - 1,
      packets_rx: 1,
      version: 2,
    },
    { ended_at: at, status: 'completed', close_reason: 'dial_failed', error: 'ECONNREFUSED' },
    { user_id: 'zoë "q"\t\\', client_id: '日本語🙂', resource_id: 'ресурс' },
    { error: "line\nbreak, nul \u0000 and 'quote'", dest_host: 'x'.repeat(255) },
    { client_id: 'é'.repeat(128), user_id: 'u'.repeat(256), site_id: 'site-ü' },
    { session_id: '0189A8F2-7C3B-7DEF-8ABC-0123456789AB' },
    { started_at: Date.UTC(2000, 0, 1), retention_days: 65535, version: 2 ** 40 },
    { started_at: Date.UTC(2099, 11, 31, 23, 59, 59, 999), retention_days: 1 },
  ];
  return rows.map((overrides, i) =>
    sessionRow({
      ...base,
      session_id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      ...overrides,
    }),
  );
}

/** Every column as the engine holds it: raw bytes in hex, types, aliases and defaults. */
const RAW_COLUMNS = `
  site_id, agent_id, resource_id, protocol, client_id, user_id, dest_host, close_reason,
  error, status, source_addr, dest_addr,
  hex(session_id) AS session_id_hex, toString(session_id) AS session_id_text,
  hex(source_ip) AS source_ip_hex, hex(dest_ip) AS dest_ip_hex,
  source_port, dest_port,
  toUnixTimestamp64Milli(started_at) AS started_ms,
  if(ended_at IS NULL, 'NULL', toString(toUnixTimestamp64Milli(ended_at))) AS ended_ms,
  toString(duration_ms) AS duration_ms, toString(bytes_tx) AS bytes_tx,
  toString(bytes_rx) AS bytes_rx, toString(packets_tx) AS packets_tx,
  toString(packets_rx) AS packets_rx, retention_days, toString(version) AS version,
  hex(error) AS error_hex, hex(client_id) AS client_id_hex`;

async function stored(org: string): Promise<Record<string, unknown>[]> {
  return binary.query(
    `SELECT ${RAW_COLUMNS} FROM sessions WHERE org_id = {org:String} ORDER BY session_id_hex, version`,
    { org },
  );
}

beforeAll(async () => {
  binary = createChdbStore({ dataDir: dir.path, database: 'connlog', log, stagingDir });
  await binary.migrate();
  text = createChdbStore({
    dataDir: dir.path,
    database: 'connlog',
    log,
    sessionInsertFormat: 'text',
  });
});

afterAll(async () => {
  await text.close();
  await binary.close();
  dir.remove();
});

describe('chDB store: RowBinary session inserts', () => {
  it('stores every column bit for bit as the text path does', async () => {
    await binary.insertSessions(probeRows('via-binary'));
    await text.insertSessions(probeRows('via-text'));
    const viaBinary = await stored('via-binary');
    const viaText = await stored('via-text');
    expect(viaBinary).toHaveLength(probeRows('x').length);
    expect(viaBinary).toEqual(viaText);
    // The staging file went away with its insert.
    expect(readdirSync(stagingDir)).toEqual([]);
  });

  it('keeps the dedup token of a staged insert', async () => {
    const rows = probeRows('dedup-binary').slice(0, 3);
    await binary.insertSessions(rows, { dedupToken: "it's-a-token\\" });
    await binary.insertSessions(rows, { dedupToken: "it's-a-token\\" });
    const [count] = await binary.query<{ n: number }>(
      "SELECT count() AS n FROM sessions WHERE org_id = 'dedup-binary'",
    );
    expect(count?.n).toBe(3);
  });

  it('removes the staging file when the engine refuses the insert', async () => {
    const bad = sessionRow({ org_id: 'bad', session_id: 'not-a-uuid' });
    expect(await codeOf(binary.insertSessions([bad]))).toBe('STORE_INSERT');
    expect(readdirSync(stagingDir)).toEqual([]);
    const [count] = await binary.query<{ n: number }>(
      "SELECT count() AS n FROM sessions WHERE org_id = 'bad'",
    );
    expect(count?.n).toBe(0);
  });

  it('refuses file() on read-only connections (the /sql path)', async () => {
    const probe = join(dir.path, 'probe.txt');
    writeFileSync(probe, 'secret\n');
    expect(
      await codeOf(
        binary.query(`SELECT * FROM file('${probe}', 'LineAsString')`, {}, { readonly: true }),
      ),
    ).toBe('STORE_READONLY');
  });

  it('clears files a crashed process left in the staging dir when it opens', async () => {
    const leftovers = join(dir.path, 'staging-leftovers');
    mkdirSync(leftovers);
    writeFileSync(join(leftovers, 'sessions-9.rowbinary'), 'half a batch');
    const store = createChdbStore({
      dataDir: dir.path,
      database: 'connlog',
      log,
      stagingDir: leftovers,
    });
    try {
      await store.insertSessions([sessionRow({ org_id: 'reopened' })]);
      expect(readdirSync(leftovers)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('inserts as text when the staging path has characters file() would expand', async () => {
    const globby = join(dir.path, 'data{1,2}');
    const store = createChdbStore({
      dataDir: dir.path,
      database: 'connlog',
      log,
      stagingDir: globby,
    });
    try {
      await store.insertSessions(probeRows('via-fallback'));
      expect(existsSync(globby)).toBe(false);
      expect(await stored('via-fallback')).toEqual(await stored('via-text'));
    } finally {
      await store.close();
    }
  });
});
