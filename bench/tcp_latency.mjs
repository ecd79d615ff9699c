// Request/response latency on one kept-alive TCP connection (64 B request, 64 B echo):
// a client process (bench/gen/pingpong_client.mjs) direct, through HAProxy (mode tcp),
// through socat and through connlog-agent; alternated, several rounds. The figure is
// the latency each proxy adds over direct, at p50 and p99.
//   node bench/tcp_latency.mjs [--rounds 5] [--requests 5000] [--quick]
import {
  echoBehindAgent,
  alternate,
  bareProxy,
  fmt,
  freePort,
  generator,
  haproxy,
  median,
  options,
  record,
  requireTools,
  socat,
  verdict,
  waitPort,
  workDir,
} from './lib.mjs';

const opt = options({ rounds: [5, 1], requests: [5000, 500] });
requireTools('nats-server', 'haproxy', 'socat');
const dir = workDir('latency');
const procs = [];
try {
  const { echo, agentPort } = await echoBehindAgent(dir.path, procs);
  const haPort = await freePort();
  procs.push(haproxy(dir.path, haPort, echo.port));
  const socatPort = await freePort();
  procs.push(socat(socatPort, echo.port));
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
  // Per round, each path's p50/p99; "added" is taken against the same round's direct run.
  const runs = {};
  for (let round = 0; round < opt.rounds; round += 1) {
    for (const [name, port] of alternate(paths, round)) {
      const r = await generator('pingpong_client.mjs', [
        '--port',
        String(port),
        '--requests',
        String(opt.requests),
      ]);
      (runs[name] ??= []).push(r);
    }
  }
  const added = (name, key) => runs[name].map((r, i) => r[key] - runs.direct[i][key]);
  const med = (name, key) => median(runs[name].map((r) => r[key]));
  const table = [
    `Round trip of 64 B on one kept-alive connection, ${opt.requests} requests per run, ${opt.rounds} rounds alternated; µs, median over rounds, (min–max) of the added latency`,
    '',
    '| path | p50 | p99 | p50 added over direct | p99 added over direct |',
    '| --- | --- | --- | --- | --- |',
    ...paths.map(([name]) => {
      const a50 = added(name, 'p50Us');
      const a99 = added(name, 'p99Us');
      return `| ${name} | ${fmt(med(name, 'p50Us'), 1)} | ${fmt(med(name, 'p99Us'), 1)} | ${fmt(median(a50), 1)} (${fmt(Math.min(...a50), 1)}–${fmt(Math.max(...a50), 1)}) | ${fmt(median(a99), 1)} (${fmt(Math.min(...a99), 1)}–${fmt(Math.max(...a99), 1)}) |`;
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
