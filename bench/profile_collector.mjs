// Profile connlog-collector while it ingests: the collector runs with --cpu-prof,
// simulated agents (bench/gen/publisher.mjs) publish `total` events as fast as
// JetStream acks, the collector inserts them all, then stops and the profile's top
// functions by self time are printed (the .cpuprofile is kept for a flame graph).
//   node bench/profile_collector.mjs [--total 1000000] [--out bench/.out/profiles]
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  connlogCollector,
  generator,
  metric,
  options,
  repo,
  startNats,
  waitUntil,
  workDir,
} from './lib.mjs';
import { topFunctions } from './profile_top.mjs';

const opt = options({
  total: [1_000_000, 20_000],
  out: [join(repo, 'bench', '.out', 'profiles'), join(repo, 'bench', '.out', 'profiles')],
});
mkdirSync(opt.out, { recursive: true });
const dir = workDir('profile-collector');
const procs = [];
try {
  const nats = await startNats(dir.path);
  procs.push(nats);
  const before = new Set(readdirSync(opt.out));
  const collector = await connlogCollector(
    join(dir.path, 'collector'),
    nats.url,
    { nats: { stream: { maxBytes: '8GiB' } } },
    { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opt.out}`] },
  );
  procs.push(collector);
  const t0 = performance.now();
  const r = await generator('publisher.mjs', [
    '--nats',
    nats.url,
    '--max-events',
    String(opt.total),
    '--seconds',
    '600',
  ]);
  await waitUntil(
    async () =>
      (await metric(collector.metricsUrl, 'connlog_collector_rows_inserted_total')) >= r.events,
    600_000,
    'every event inserted',
  );
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `${r.events} events in ${seconds.toFixed(1)} s = ${(r.events / seconds).toFixed(0)} events/s`,
  );
  await collector.stop('SIGTERM');
  const profile = readdirSync(opt.out).find((f) => !before.has(f) && f.endsWith('.cpuprofile'));
  if (!profile) throw new Error('the collector wrote no profile');
  console.log(`profile: ${join(opt.out, profile)}`);
  console.log(topFunctions(join(opt.out, profile), 30));
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
