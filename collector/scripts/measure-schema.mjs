#!/usr/bin/env node
// Measures the `sessions` schema in the embedded engine: bytes per row on disk and
// one-row-per-session query cost (FINAL view vs argMax). Prints figures; asserts nothing.
// Usage: pnpm build && node scripts/measure-schema.mjs [sessions=100000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createChdbStore } from '../dist/store/chdb.js';
import { SESSION_COLUMNS } from '../dist/store/schema.js';

const sessions = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'connlog-measure-'));
const store = createChdbStore({ dataDir: dir, database: 'connlog', log: pino({ level: 'warn' }) });

// Deterministic pseudo-random numbers, so runs compare.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = (list) => list[Math.floor(rand() * list.length)];
const logNormal = (median, spread) =>
  Math.round(median * Math.exp(spread * (rand() + rand() + rand() - 1.5)));

const orgs = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const sites = Array.from({ length: 20 }, (_, i) => `site-${i}`);
const resources = [
  { id: 'db', port: 5432, host: '10.0.0.5', proto: 'tcp' },
  { id: 'web', port: 443, host: 'intranet.corp', proto: 'tcp' },
  { id: 'ssh', port: 22, host: '10.0.1.20', proto: 'tcp' },
  { id: 'rdp', port: 3389, host: 'win-jump.corp', proto: 'tcp' },
  { id: 'dns', port: 53, host: '10.0.0.53', proto: 'udp' },
  { id: 'redis', port: 6379, host: '10.0.2.7', proto: 'tcp' },
];
const users = Array.from({ length: 500 }, (_, i) => `user-${i}@example.com`);
const reasons = [
  'client_closed',
  'client_closed',
  'client_closed',
  'target_closed',
  'idle_timeout',
  'reset',
  'dial_failed',
];
const dayStart = Date.UTC(2030, 0, 1);

/** UUIDv7 as the agent mints them: 48-bit ms timestamp, then random bits. */
function uuidv7(ms) {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Every version of one session, as the agent would report it. */
function versionsOf(index) {
  const resource = pick(resources);
  const site = pick(sites);
  const started = dayStart + Math.floor((index / sessions) * 86_400_000);
  const base = {
    org_id: pick(orgs),
    site_id: site,
    agent_id: `${site}-agent`,
    resource_id: resource.id,
    session_id: uuidv7(started),
    protocol: resource.proto,
    client_id: rand() < 0.7 ? `client-${Math.floor(rand() * 2000)}` : '',
    user_id: rand() < 0.7 ? pick(users) : '',
    source_ip: `::ffff:192.168.${Math.floor(rand() * 64)}.${Math.floor(rand() * 254) + 1}`,
    source_port: 32768 + Math.floor(rand() * 28000),
    dest_ip: `::ffff:${resource.host.startsWith('10.') ? resource.host : '10.0.9.9'}`,
    dest_port: resource.port,
    dest_host: resource.host,
    started_at: started,
    retention_days: 30,
    error: '',
  };
  const duration = logNormal(resource.proto === 'udp' ? 50 : 30_000, 3);
  const bytesTx = logNormal(4000, 3);
  const bytesRx = logNormal(40_000, 3);
  const updates = Math.min(5, Math.floor(duration / 60_000));
  const ongoing = rand() < 0.05;
  const out = [];
  const at = (fraction, version, end) => ({
    ...base,
    ended_at: end ? started + duration : null,
    duration_ms: Math.round(duration * fraction),
    bytes_tx: Math.round(bytesTx * fraction),
    bytes_rx: Math.round(bytesRx * fraction),
    packets_tx: Math.round((bytesTx * fraction) / 900),
    packets_rx: Math.round((bytesRx * fraction) / 1200),
    close_reason: end ? pick(reasons) : '',
    status: end ? 'completed' : 'ongoing',
    version,
  });
  out.push(at(0, 1, false));
  for (let u = 1; u <= updates; u += 1) out.push(at(u / (updates + 1), u + 1, false));
  if (!ongoing) out.push(at(1, updates + 2, true));
  const last = out[out.length - 1];
  if (last.close_reason === 'dial_failed') last.error = 'connect ECONNREFUSED 10.0.0.5:5432';
  return out;
}

async function partsFigures() {
  const [row] = await store.query(
    `SELECT sum(rows) AS rows, sum(bytes_on_disk) AS bytes, sum(data_uncompressed_bytes) AS raw, count() AS parts
     FROM system.parts WHERE database = 'connlog' AND table = 'sessions' AND active`,
  );
  return row;
}

async function timed(label, sql, runs = 5) {
  const times = [];
  let result;
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    result = await store.query(sql);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(44)} median ${times[Math.floor(runs / 2)].toFixed(1)} ms  -> ${JSON.stringify(result[0])}`,
  );
}

// The argMax alternative to the FINAL view: every column, latest version wins.
const KEYS = ['org_id', 'started_at', 'session_id'];
const REST = SESSION_COLUMNS.filter((c) => !KEYS.includes(c));
const ARGMAX = `SELECT ${KEYS.join(', ')}, ${REST.map((c, i) => `latest.${i + 1} AS ${c}`).join(', ')}
  FROM (SELECT ${KEYS.join(', ')}, argMax(tuple(${REST.join(', ')}), version) AS latest
        FROM sessions GROUP BY ${KEYS.join(', ')})`;

try {
  await store.migrate();
  await store.exec('SYSTEM STOP MERGES connlog.sessions');
  // Versions go in by kind, as they would over time: every START, then each round of
  // UPDATEs, then the ENDs, so a session's versions sit in different parts.
  const all = [];
  for (let i = 0; i < sessions; i += 1) all.push(versionsOf(i));
  let versions = 0;
  for (let round = 0; ; round += 1) {
    const rows = [];
    for (const list of all) if (list[round]) rows.push(list[round]);
    if (rows.length === 0) break;
    for (let i = 0; i < rows.length; i += 20_000)
      await store.insertSessions(rows.slice(i, i + 20_000));
    versions += rows.length;
  }
  console.log(
    `${sessions} sessions, ${versions} versions (${(versions / sessions).toFixed(2)} per session)`,
  );

  const unmerged = await partsFigures();
  console.log(
    `unmerged: ${unmerged.rows} rows in ${unmerged.parts} parts, ${unmerged.bytes} bytes on disk = ${(unmerged.bytes / unmerged.rows).toFixed(1)} B/row`,
  );

  const queries = [
    [
      'count completed, one org, whole day',
      (src) => `SELECT count() AS n FROM (${src}) WHERE org_id = 'acme' AND ended_at IS NOT NULL`,
    ],
    [
      'newest 100 to port 5432, one org',
      (src) =>
        `SELECT session_id, bytes_tx FROM (${src}) WHERE org_id = 'acme' AND dest_port = 5432 ORDER BY started_at DESC, session_id DESC LIMIT 100`,
    ],
    [
      'top users by bytes, one org, 6 h',
      (src) =>
        `SELECT user_id, sum(bytes_rx) AS b FROM (${src}) WHERE org_id = 'acme' AND started_at >= toDateTime64('2030-01-01 06:00:00', 3, 'UTC') AND started_at < toDateTime64('2030-01-01 12:00:00', 3, 'UTC') GROUP BY user_id ORDER BY b DESC LIMIT 10`,
    ],
  ];
  const compare = async (state) => {
    for (const [label, build] of queries) {
      await timed(`[${state}] FINAL view: ${label}`, build('SELECT * FROM network_logs'));
      await timed(`[${state}] argMax:     ${label}`, build(ARGMAX));
    }
  };
  await compare('unmerged');

  await store.exec('SYSTEM START MERGES connlog.sessions');
  await store.exec('OPTIMIZE TABLE connlog.sessions FINAL');
  const merged = await partsFigures();
  console.log(
    `merged: ${merged.rows} rows in ${merged.parts} parts, ${merged.bytes} bytes on disk = ${(merged.bytes / merged.rows).toFixed(1)} B/row (uncompressed ${(merged.raw / merged.rows).toFixed(1)} B/row)`,
  );
  await compare('merged');

  const columns = await store.query(
    `SELECT name, sum(data_compressed_bytes) AS bytes, round(sum(data_compressed_bytes) / ${merged.rows}, 2) AS per_row
     FROM system.columns WHERE database = 'connlog' AND table = 'sessions' GROUP BY name ORDER BY bytes DESC`,
  );
  for (const column of columns)
    console.log(`  ${column.name.padEnd(16)} ${String(column.per_row).padStart(6)} B/row`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
