// Profile connlog-agent under load: the agent runs with --cpu-prof while a load
// generator process drives it (churn: connect/64 B/64 B/close loops; idle: N held
// sessions), then the profile's top functions by self time are printed and the
// .cpuprofile kept (open it in Chrome DevTools or speedscope for a flame graph).
//   node bench/profile_agent.mjs [--load churn] [--seconds 10] [--concurrency 64]
//       [--out bench/.out/profiles]
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  connlogAgent,
  echoServer,
  ensureStream,
  freePort,
  generator,
  options,
  repo,
  startNats,
  waitPort,
  workDir,
} from './lib.mjs';
import { topFunctions } from './profile_top.mjs';

const opt = options({
  load: ['churn', 'churn'],
  seconds: [10, 2],
  concurrency: [64, 8],
  out: [join(repo, 'bench', '.out', 'profiles'), join(repo, 'bench', '.out', 'profiles')],
});
const out = opt.out;
mkdirSync(out, { recursive: true });
const dir = workDir('profile');
const procs = [];
try {
  const echo = await echoServer(20_000);
  procs.push(echo);
  const nats = await startNats(dir.path);
  procs.push(nats);
  await ensureStream(nats.url);
  const port = await freePort();
  const before = new Set(readdirSync(out));
  const agent = await connlogAgent(
    dir.path,
    nats.url,
    [
      {
        id: 'echo',
        protocol: 'tcp',
        listen: `127.0.0.1:${port}`,
        target: `127.0.0.1:${echo.port}`,
      },
    ],
    {},
    { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${out}`], files: 20_000 },
  );
  procs.push(echo);
  await waitPort(port);
  const r = await generator('churn_client.mjs', [
    '--port',
    String(port),
    '--seconds',
    String(opt.seconds),
    '--concurrency',
    String(opt.concurrency),
  ]);
  console.log(
    `${r.sessions} sessions in ${r.seconds.toFixed(1)} s = ${(r.sessions / r.seconds).toFixed(0)}/s`,
  );
  await agent.stop('SIGTERM');
  const profile = readdirSync(out).find((f) => !before.has(f) && f.endsWith('.cpuprofile'));
  if (!profile) throw new Error('the agent wrote no profile');
  console.log(`profile: ${join(out, profile)}`);
  console.log(topFunctions(join(out, profile), 25));
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
