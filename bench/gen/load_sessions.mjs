// Fill a collector data dir with `rows` stored sessions (one completed version each),
// generated inside the embedded engine with INSERT ... SELECT FROM numbers(), which is
// far faster than sending them. The mix: 5 orgs (round robin), `days` days ending now
// spread evenly, 500 users, 2000 clients, 20 sites, 6 resources, log-normal-ish bytes.
// Prints one JSON line: { rows, seconds, bytesOnDisk, from, to }.
//   node load_sessions.mjs --dir D [--rows 50000000] [--days 30] [--chunk 5000000]
import { parseArgs } from 'node:util';
import { openStore } from '../collector_kit.mjs';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    rows: { type: 'string', default: '50000000' },
    days: { type: 'string', default: '30' },
    chunk: { type: 'string', default: '5000000' },
  },
});
const rows = Number(values.rows);
const chunk = Number(values.chunk);
const to = Date.now() - 60_000;
const from = to - Number(values.days) * 86_400_000;
const span = to - from;
const store = await openStore(values.dir);
const started = performance.now();
// Row n: started_at grows with n, so each chunk fills a slice of time (few parts per
// partition). Hashes of n give the other columns their spread.
for (let offset = 0; offset < rows; offset += chunk) {
  const count = Math.min(chunk, rows - offset);
  await store.exec(`INSERT INTO connlog.sessions
    (org_id, site_id, agent_id, resource_id, session_id, protocol, client_id, user_id,
     source_ip, source_port, dest_ip, dest_port, dest_host, started_at, ended_at,
     duration_ms, bytes_tx, bytes_rx, packets_tx, packets_rx, close_reason, error,
     retention_days, version)
  SELECT
    ['acme', 'globex', 'initech', 'umbrella', 'hooli'][n % 5 + 1] AS org_id,
    concat('site-', toString(h % 20)) AS site_id,
    concat('site-', toString(h % 20), '-agent') AS agent_id,
    ['db', 'web', 'ssh', 'rdp', 'dns', 'redis'][bitShiftRight(h, 8) % 6 + 1] AS resource_id,
    generateUUIDv4(n) AS session_id,
    if(bitShiftRight(h, 8) % 6 = 4, 'udp', 'tcp') AS protocol,
    if(bitShiftRight(h, 16) % 10 < 7, concat('client-', toString(bitShiftRight(h, 20) % 2000)), '') AS client_id,
    if(bitShiftRight(h, 32) % 10 < 8, concat('user-', toString(bitShiftRight(h, 36) % 500), '@example.com'), '') AS user_id,
    toIPv6(IPv4NumToString(toUInt32(3232235520 + bitShiftRight(h, 40) % 16384))) AS source_ip,
    32768 + bitShiftRight(h, 12) % 28000 AS source_port,
    toIPv6(['10.0.0.5', '10.0.0.80', '10.0.1.20', '10.0.3.3', '10.0.0.53', '10.0.2.7'][bitShiftRight(h, 8) % 6 + 1]) AS dest_ip,
    [5432, 443, 22, 3389, 53, 6379][bitShiftRight(h, 8) % 6 + 1] AS dest_port,
    ['10.0.0.5', 'intranet.corp', '10.0.1.20', 'win-jump.corp', '10.0.0.53', '10.0.2.7'][bitShiftRight(h, 8) % 6 + 1] AS dest_host,
    fromUnixTimestamp64Milli(toInt64(${from} + intDiv(n * ${span}, ${rows})), 'UTC') AS started_at,
    started_at + toIntervalMillisecond(duration_ms) AS ended_at,
    toUInt64(exp((bitShiftRight(h, 44) % 1000) / 100.0)) AS duration_ms,
    toUInt64(exp((bitShiftRight(h, 24) % 1500) / 100.0)) AS bytes_tx,
    toUInt64(exp((bitShiftRight(h, 4) % 1700) / 100.0)) AS bytes_rx,
    0 AS packets_tx,
    0 AS packets_rx,
    ['client_closed', 'client_closed', 'client_closed', 'target_closed', 'idle_timeout', 'reset', 'dial_failed'][bitShiftRight(h, 52) % 7 + 1] AS close_reason,
    if(close_reason = 'dial_failed', 'connect ECONNREFUSED', '') AS error,
    30 AS retention_days,
    2 AS version
  FROM (SELECT number + ${offset} AS n, cityHash64(number + ${offset}) AS h FROM numbers(${count}))`);
}
const seconds = (performance.now() - started) / 1000;
const [disk] = await store.query(
  `SELECT sum(bytes_on_disk) AS bytes, sum(rows) AS rows FROM system.parts WHERE database = 'connlog' AND table = 'sessions' AND active`,
);
await store.close();
console.log(JSON.stringify({ rows, seconds, bytesOnDisk: Number(disk.bytes), from, to }));
