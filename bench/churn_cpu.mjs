// Agent CPU per TCP session, A/B: two connlog-agent builds (this checkout and another
// one, e.g. a worktree of main) proxy the same echo server and publish to the same
// nats-server. Runs alternate between them; each run drives session churn (connect,
// 64 B each way, close) through one agent, waits until that agent has ended every
// session and published every event, and divides the agent's CPU time (utime + stime
// from /proc/<pid>/stat) by the sessions ended. CPU per session is robust to other
// processes competing for the cores; sessions/s is not.
//   node bench/churn_cpu.mjs --other /work/wt-main [--rounds 4] [--seconds 5]
//       [--concurrency 64]
import { join } from 'node:path';
import {
  AGENT_BIN,
  cpuSeconds,
  daemon,
  echoServer,
  ensureStream,
  fmt,
  freePort,
  generator,
  median,
  metric,
  options,
  startNats,
  waitHttp,
  waitPort,
  waitUntil,
  workDir,
} from './lib.mjs';

const opt = options({
  other: ['', ''],
  rounds: [4, 1],
  seconds: [5, 1],
  concurrency: [64, 8],
});
if (opt.other === '') throw new Error('--other: the checkout to compare with (a built repo)');

const FILES = 65_536;
async function startAgent(dir, name, bin, natsUrl, targetPort) {
  const port = await freePort();
  const httpPort = await freePort();
  const cfg = join(dir, `${name}.json`);
  const config = {
    org: 'bench',
    site: 'local',
    nats: { servers: [natsUrl] },
    spool: { dir: join(dir, `${name}-spool`) },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { level: 'warn' },
    resources: [
      {
        id: 'echo',
        protocol: 'tcp',
        listen: `127.0.0.1:${port}`,
        target: `127.0.0.1:${targetPort}`,
      },
    ],
  };
  const { writeFileSync } = await import('node:fs');
  writeFileSync(cfg, JSON.stringify(config));
  const proc = daemon(process.execPath, [bin, 'run', '--config', cfg], { files: FILES });
  await waitHttp(`http://127.0.0.1:${httpPort}/healthz`, 60_000, proc);
  await waitPort(port);
  return { ...proc, name, port, metricsUrl: `http://127.0.0.1:${httpPort}/metrics`, attempted: 0 };
}

const dir = workDir('churn-cpu');
const procs = [];
try {
  const echo = await echoServer(FILES);
  procs.push(echo);
  const nats = await startNats(dir.path);
  procs.push(nats);
  await ensureStream(nats.url);
  const agents = [
    await startAgent(dir.path, 'this', AGENT_BIN, nats.url, echo.port),
    await startAgent(
      dir.path,
      'other',
      join(opt.other, 'agent', 'bin', 'connlog-agent.js'),
      nats.url,
      echo.port,
    ),
  ];
  procs.push(...agents);
  // Warm-up (JIT, buffers), not counted.
  for (const agent of agents) {
    const r = await generator(
      'churn_client.mjs',
      ['--port', String(agent.port), '--seconds', '2', '--concurrency', String(opt.concurrency)],
      { files: FILES },
    );
    agent.attempted += r.sessions + r.errors;
  }
  const results = { this: [], other: [] };
  for (let round = 0; round < opt.rounds; round += 1) {
    const order = round % 2 === 0 ? agents : [...agents].reverse();
    for (const agent of order) {
      const before = cpuSeconds(agent.pid);
      const r = await generator(
        'churn_client.mjs',
        [
          '--port',
          String(agent.port),
          '--seconds',
          String(opt.seconds),
          '--concurrency',
          String(opt.concurrency),
        ],
        { files: FILES },
      );
      agent.attempted += r.sessions + r.errors;
      // Include the recording work: every session ended, every event published.
      await waitUntil(
        async () =>
          (await metric(agent.metricsUrl, 'connlog_agent_sessions_ended_total')) >=
            agent.attempted &&
          (await metric(agent.metricsUrl, 'connlog_agent_events_published_total')) >=
            2 * agent.attempted,
        120_000,
        `${agent.name}: every session ended and published`,
      );
      const cpu = cpuSeconds(agent.pid) - before;
      const sessions = r.sessions + r.errors;
      const usPerSession = (cpu * 1e6) / sessions;
      results[agent.name].push({ usPerSession, rate: r.sessions / r.seconds });
      console.log(
        `round ${round + 1} ${agent.name.padEnd(5)} ${sessions} sessions, ${(r.sessions / r.seconds).toFixed(0)}/s, ` +
          `${cpu.toFixed(2)} CPU-s, ${usPerSession.toFixed(1)} µs/session`,
      );
    }
  }
  for (const name of ['this', 'other']) {
    const us = results[name].map((x) => x.usPerSession);
    const rate = results[name].map((x) => x.rate);
    console.log(
      `${name.padEnd(5)} CPU µs/session median ${fmt(median(us), 1)} (${fmt(Math.min(...us), 1)}–${fmt(Math.max(...us), 1)}); ` +
        `sessions/s median ${fmt(median(rate), 0)}`,
    );
  }
  const ratio =
    median(results.this.map((x) => x.usPerSession)) /
    median(results.other.map((x) => x.usPerSession));
  console.log(`this/other CPU per session: ${fmt(ratio, 2)}`);
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
