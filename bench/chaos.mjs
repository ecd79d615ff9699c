// Chaos benchmark: runs the e2e fault scenarios (e2e/test/fault_*.test.ts — real
// nats-server, connlog-agent and connlog-collector processes, real sockets) with
// thousands of sessions instead of a few hundred, and prints, per scenario, how many
// sessions the clients completed and how many of them are in connlog.network_logs
// exactly once with their exact byte counts. A benchmark: it prints figures and exits
// non-zero only when a scenario lost or doubled a session (or could not run).
//
// Usage: node bench/chaos.mjs [--sessions 3000] [--only nats_outage,agent_kill] [--quick]
//        (or: pnpm --filter @connlog/bench chaos; pnpm bench --only chaos). It builds first.
// --quick: 100 sessions per scenario, a smoke run of the harness.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { have, repo } from './lib.mjs';

const SCENARIOS = [
  'nats_outage',
  'collector_kill',
  'agent_kill',
  'store_failure',
  'dead_letter',
  'shared_consumer',
];

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const sessions = Number(opt('sessions', args.includes('--quick') ? '100' : '3000'));
const only = String(opt('only', SCENARIOS.join(','))).split(',');
for (const name of only) {
  if (!SCENARIOS.includes(name)) {
    console.error(`--only: unknown scenario "${name}" (one of ${SCENARIOS.join(', ')})`);
    process.exit(2);
  }
}
if (!Number.isSafeInteger(sessions) || sessions < 10) {
  console.error('--sessions must be an integer of at least 10');
  process.exit(2);
}
if (!have('nats-server')) {
  console.error('nats-server is required (Debian: apt-get install nats-server)');
  process.exit(1);
}

execFileSync('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], {
  cwd: repo,
  stdio: ['ignore', 'ignore', 'inherit'],
});

const reportFile = join(tmpdir(), `connlog-chaos-${process.pid}.jsonl`);
rmSync(reportFile, { force: true });
const files = only.map((name) => `test/fault_${name}.test.ts`);
const started = Date.now();
console.log(
  `chaos: ${sessions} sessions per scenario, scenarios ${only.join(', ')}, node ${process.version}`,
);

const code = await new Promise((resolve) => {
  const child = spawn(
    'pnpm',
    ['exec', 'vitest', 'run', ...files, '--testTimeout=1800000', '--hookTimeout=300000'],
    {
      cwd: join(repo, 'e2e'),
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        CONNLOG_FAULT_SESSIONS: String(sessions),
        CONNLOG_CHAOS_REPORT: reportFile,
      },
    },
  );
  child.on('exit', (exitCode) => resolve(exitCode ?? 1));
});

const rows = existsSync(reportFile)
  ? readFileSync(reportFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line))
  : [];
rmSync(reportFile, { force: true });

console.log(
  `\nchaos results (${sessions} sessions per scenario, ${Math.round((Date.now() - started) / 1000)} s in all)`,
);
console.table(
  rows.map((row) => ({
    scenario: row.scenario,
    'sessions sent': row.sent,
    stored: row.stored,
    missing: row.missing,
    duplicated: row.duplicated,
    'left ongoing': row.ongoing,
    'cut short': row.cutShort ?? '',
    lost: row.lost ?? '',
    s: row.seconds,
  })),
);
for (const row of rows) {
  if (row.problems.length > 0) console.log(`${row.scenario}: ${row.problems.join('; ')}`);
}
const lossy = rows.filter(
  // The crash window (sessions that ended just before an agent kill -9) is measured,
  // not promised: see docs/reliability.md.
  (row) => !row.scenario.includes('crash window') && (row.missing > 0 || row.duplicated > 0),
);
if (code !== 0 || lossy.length > 0 || rows.length === 0) process.exit(1);
