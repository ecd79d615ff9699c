// Request/response latency on one kept-alive TCP connection (64 B request, 64 B echo):
// a client process (bench/gen/pingpong_client.mjs) direct, through HAProxy (mode tcp),
// through socat and through connlog-agent; alternated, several rounds. The figure is
// the latency each proxy adds over direct, at p50 and p99; and the proxy's CPU (/proc,
// user + system) per request-response, what one exchange costs it.
//   node bench/tcp_latency.mjs [--rounds 5] [--requests 5000] [--quick]
import {
  echoBehindAgent,
  alternate,
  bareProxy,
  cpuMeter,
  proxyMeters,
  fmt,
  freePort,
  generator,
  haproxy,
  median,
  options,
  record,
  requireTools,
  socat,
  summary,
  verdict,
  waitPort,
  workDir,
} from './lib.mjs';

const opt = options({ rounds: [5, 1], requests: [5000, 500] });
requireTools('nats-server', 'haproxy', 'socat');
const dir = workDir('latency');
const procs = [];
try {
  const { echo, agent, agentPort } = await echoBehindAgent(dir.path, procs);
  const haPort = await freePort();
  const haProc = haproxy(dir.path, haPort, echo.port);
  procs.push(haProc);
  const socatPort = await freePort();
  const socatProc = socat(socatPort, echo.port);
  procs.push(socatProc);
  await Promise.all([waitPort(agentPort), waitPort(haPort), waitPort(socatPort)]);

  const bare = await bareProxy(echo.port);
  procs.push(bare);
  const paths = [
    ['direct', echo.port],
    ['haproxy', haPort],
    ['socat', socatPort],
    ['node-bare-proxy', bare.port],
    ['connlog-agent', agentPort],
  ];
  // What each path's proxy is, for the CPU meter.
  const proxyOf = proxyMeters({
    haproxy: haProc.pid,
    socat: socatProc.pid,
    bare: bare.pid,
    agent: agent.pid,
  });
  const WARMUP = 500;
  // Per round, each path's p50/p99; "added" is taken against the same round's direct run.
  const runs = {};
  // path → µs of the proxy's CPU per request-response (warm-up included), per round.
  const cpu = {};
  for (let round = 0; round < opt.rounds; round += 1) {
    for (const [name, port] of alternate(paths, round)) {
      const meter = cpuMeter(proxyOf[name]);
      const r = await generator('pingpong_client.mjs', [
        '--port',
        String(port),
        '--requests',
        String(opt.requests),
        '--warmup',
        String(WARMUP),
      ]);
      (runs[name] ??= []).push(r);
      (cpu[name] ??= []).push(((meter().proxy ?? 0) * 1e6) / (opt.requests + WARMUP));
    }
  }
  const added = (name, key) => runs[name].map((r, i) => r[key] - runs.direct[i][key]);
  const med = (name, key) => median(runs[name].map((r) => r[key]));
  const table = [
    `Round trip of 64 B on one kept-alive connection, ${opt.requests} requests per run, ${opt.rounds} rounds alternated; µs, median over rounds, (min–max) of the added latency`,
    '',
    '| path | p50 | p99 | p50 added over direct | p99 added over direct | proxy CPU µs per request-response |',
    '| --- | --- | --- | --- | --- | --- |',
    ...paths.map(([name]) => {
      const a50 = added(name, 'p50Us');
      const a99 = added(name, 'p99Us');
      return `| ${name} | ${fmt(med(name, 'p50Us'), 1)} | ${fmt(med(name, 'p99Us'), 1)} | ${fmt(median(a50), 1)} (${fmt(Math.min(...a50), 1)}–${fmt(Math.max(...a50), 1)}) | ${fmt(median(a99), 1)} (${fmt(Math.min(...a99), 1)}–${fmt(Math.max(...a99), 1)}) | ${name === 'direct' ? '—' : summary(cpu[name], 1)} |`;
    }),
  ];
  const agent50 = median(added('connlog-agent', 'p50Us'));
  const agent99 = median(added('connlog-agent', 'p99Us'));
  const ha50 = median(added('haproxy', 'p50Us'));
  const ha99 = median(added('haproxy', 'p99Us'));
  record('tcp_latency', {
    command: `node bench/tcp_latency.mjs --rounds ${opt.rounds} --requests ${opt.requests}`,
    rows: [
      {
        target: 'request/response latency added over direct, p50',
        reference: `HAProxy +${fmt(ha50, 1)} µs`,
        measured: `agent +${fmt(agent50, 1)} µs`,
        goal: 'agent ≤ HAProxy',
        met: verdict(agent50 <= ha50),
      },
      {
        target: 'request/response latency added over direct, p99',
        reference: `HAProxy +${fmt(ha99, 1)} µs`,
        measured: `agent +${fmt(agent99, 1)} µs`,
        goal: 'agent ≤ HAProxy',
        met: verdict(agent99 <= ha99),
      },
    ],
    details: table.join('\n'),
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
