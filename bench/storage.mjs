// Storage: bytes on disk per session in connlog.sessions (system.parts), for a
// realistic mix of sessions (collector/scripts/measure-schema.mjs generates it: 5
// orgs, 20 sites, 6 resources, 500 users, log-normal durations and byte counts, START
// + UPDATEs + END per session), after merges (one row per session) and before.
//   node bench/storage.mjs [--sessions 1000000] [--quick]
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { options, record, repo, verdict } from './lib.mjs';

const opt = options({ sessions: [1_000_000, 20_000] });
const script = join(repo, 'collector', 'scripts', 'measure-schema.mjs');
const { stdout } = await promisify(execFile)(process.execPath, [script, String(opt.sessions)], {
  cwd: join(repo, 'collector'),
  maxBuffer: 16 * 1024 * 1024,
});
const line = (prefix) => stdout.split('\n').find((l) => l.startsWith(prefix)) ?? '';
const merged = /= ([\d.]+) B\/row/.exec(line('merged:'));
const unmerged = /= ([\d.]+) B\/row/.exec(line('unmerged:'));
if (!merged || !unmerged) throw new Error(`unexpected measure-schema output:\n${stdout}`);
const perSession = Number(merged[1]);
const columns = stdout
  .split('\n')
  .filter((l) => /^ {2}\S+\s+[\d.]+ B\/row$/.test(l))
  .map((l) => l.trim().split(/\s+/))
  .map(([name, bytes]) => `${name} ${bytes}`);
record('storage', {
  command: `node bench/storage.mjs --sessions ${opt.sessions}`,
  rows: [
    {
      target: 'storage: bytes on disk per session (system.parts), realistic mix',
      reference: '—',
      measured: `${perSession} B/session merged (${unmerged[1]} B/row before merges)`,
      goal: '≤ 40 B',
      met: verdict(perSession <= 40),
    },
  ],
  details: [
    `${line(`${opt.sessions} sessions`)}; ${line('unmerged:')}; ${line('merged:')}.`,
    '',
    columns.some((c) => !c.endsWith(' 0'))
      ? `Per column after merges (B/row): ${columns.join(', ')}.`
      : 'Per column sizes: too small a sample to show.',
  ].join('\n'),
});
