// UDP request/response throughput: a load generator process (bench/gen/udp_rr_client.mjs,
// `flows` sockets each keeping `window` requests in flight) against a UDP echo process,
// direct, through socat (UDP-LISTEN fork, one process per flow) and through
// connlog-agent (one flow = one recorded session); alternated, several rounds, for a
// small and a large datagram. Figures: datagrams/s and payload bytes/s through the path
// (both directions: every exchange is a request and a reply). Asserts nothing.
//   node bench/udp_throughput.mjs [--rounds 3] [--seconds 5] [--flows 16] [--window 4]
//                                 [--sizes 64,1200] [--quick]
import { join } from 'node:path';
import {
  GEN,
  alternate,
  connlogAgent,
  daemon,
  ensureStream,
  fmt,
  freePort,
  generator,
  have,
  median,
  metric,
  options,
  record,
  requireTools,
  sleep,
  startNats,
  summary,
  verdict,
  workDir,
} from './lib.mjs';

const opt = options({
  rounds: [3, 1],
  seconds: [5, 1],
  flows: [16, 4],
  window: [4, 4],
  sizes: ['64,1200', '64'],
});
const sizes = String(opt.sizes).split(',').map(Number);
requireTools('nats-server');
const withSocat = have('socat');

const dir = workDir('udp');
const procs = [];
try {
  const echoPort = await freePort();
  procs.push(daemon(process.execPath, [join(GEN, 'udp_echo_server.mjs'), String(echoPort)]));
  await sleep(300);
  const nats = await startNats(dir.path);
  procs.push(nats);
  await ensureStream(nats.url);
  const agentPort = await freePort();
  const agent = await connlogAgent(dir.path, nats.url, [
    {
      id: 'udp-echo',
      protocol: 'udp',
      listen: `127.0.0.1:${agentPort}`,
      target: `127.0.0.1:${echoPort}`,
      // Short, so each run's flows end (and are recorded) before the next run starts.
      idleTimeout: '1s',
    },
  ]);
  procs.push(agent);
  const paths = [
    ['direct', echoPort],
    ['connlog-agent', agentPort],
  ];
  if (withSocat) {
    const socatPort = await freePort();
    // -T 3: a forked child exits 3 s after its flow went quiet (UDP has no end).
    procs.push(
      daemon('socat', [
        '-T',
        '3',
        `UDP-LISTEN:${socatPort},bind=127.0.0.1,reuseaddr,fork`,
        `UDP:127.0.0.1:${echoPort}`,
      ]),
    );
    await sleep(300);
    paths.splice(1, 0, ['socat', socatPort]);
  }

  const results = {};
  let lost = 0;
  for (const size of sizes) {
    for (let round = 0; round < opt.rounds; round += 1) {
      for (const [name, port] of alternate(paths, round)) {
        const out = await generator('udp_rr_client.mjs', [
          '--port',
          String(port),
          '--flows',
          String(opt.flows),
          '--size',
          String(size),
          '--window',
          String(opt.window),
          '--seconds',
          String(opt.seconds),
        ]);
        lost += out.lost;
        (results[`${size}:${name}`] ??= []).push(out.exchangesPerSec);
      }
    }
  }

  // What the agent recorded: every flow of every run is a session (ended by idle_timeout).
  await sleep(2500);
  const sessions = await metric(agent.metricsUrl, 'connlog_agent_sessions_started_total');

  const header =
    `UDP request/response through each path: ${opt.flows} flows × ${opt.window} in flight, ` +
    `${opt.seconds} s per run, ${opt.rounds} rounds alternated; median (min–max). ` +
    'Datagrams/s and payload MB/s count both directions (request + reply).';
  const table = [
    '| size | path | datagrams/s | payload MB/s | vs direct | vs socat |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const rows = [];
  for (const size of sizes) {
    const direct = median(results[`${size}:direct`]);
    const socat = withSocat ? median(results[`${size}:socat`]) : NaN;
    for (const [name] of paths) {
      const exchanges = results[`${size}:${name}`];
      const datagrams = exchanges.map((x) => 2 * x);
      const mbps = exchanges.map((x) => (2 * x * size) / 1e6);
      const m = median(exchanges);
      table.push(
        `| ${size} B | ${name} | ${summary(datagrams, 0)} | ${summary(mbps, 1)} | ${fmt(m / direct)} | ${fmt(m / socat)} |`,
      );
    }
    const agent = median(results[`${size}:connlog-agent`]);
    rows.push({
      target: `UDP request/response, ${size} B datagrams, ${opt.flows} flows: datagrams/s through connlog-agent`,
      reference: `direct ${fmt(2 * direct, 0)}/s${withSocat ? `; socat ${fmt(2 * socat, 0)}/s` : ''}`,
      measured: `${fmt(2 * agent, 0)}/s, ${fmt((2 * agent * size) / 1e6, 1)} MB/s (${fmt(agent / direct)}× direct${withSocat ? `, ${fmt(agent / socat)}× socat` : ''})`,
      goal: '—',
      met: verdict(undefined),
    });
  }
  const details = [
    header,
    '',
    ...table,
    '',
    `Requests counted as lost (no reply within 200 ms, all paths, all runs): ${lost}. ` +
      `Sessions the agent recorded: ${sessions} (every flow of every run through it).`,
  ].join('\n');
  record('udp_throughput', {
    command: `node bench/udp_throughput.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    rows,
    details,
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
