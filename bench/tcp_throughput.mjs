// Single- and multi-stream TCP throughput: iperf3 direct vs through HAProxy (mode tcp)
// vs through socat vs through connlog-agent, measured side by side, alternated, several
// rounds. Prints figures; asserts nothing.
// `--reverse` runs iperf3 -R: the bytes flow target → client (a download), the direction
// in which the agent reads into its own buffers.
//   node bench/tcp_throughput.mjs [--rounds 3] [--seconds 5] [--streams 1,8] [--reverse] [--quick]
import {
  alternate,
  bareProxy,
  connlogAgent,
  daemon,
  ensureStream,
  fmt,
  freePort,
  haproxy,
  median,
  options,
  record,
  iperfGbits,
  requireTools,
  socat,
  startNats,
  summary,
  verdict,
  waitPort,
  workDir,
} from './lib.mjs';

const opt = options({ rounds: [3, 1], seconds: [5, 1], streams: ['1,8', '1,8'] });
const reverse = process.argv.includes('--reverse');
const streams = String(opt.streams).split(',').map(Number);
requireTools('iperf3', 'nats-server', 'haproxy', 'socat');

const dir = workDir('tcp');
const procs = [];
try {
  const iperfPort = await freePort();
  procs.push(daemon('iperf3', ['-s', '-p', String(iperfPort), '-B', '127.0.0.1']));
  await waitPort(iperfPort);
  const nats = await startNats(dir.path);
  procs.push(nats);
  await ensureStream(nats.url);
  const agentPort = await freePort();
  procs.push(
    await connlogAgent(dir.path, nats.url, [
      {
        id: 'iperf',
        protocol: 'tcp',
        listen: `127.0.0.1:${agentPort}`,
        target: `127.0.0.1:${iperfPort}`,
      },
    ]),
  );
  const haPort = await freePort();
  procs.push(haproxy(dir.path, haPort, iperfPort));
  const socatPort = await freePort();
  procs.push(socat(socatPort, iperfPort));
  await Promise.all([waitPort(agentPort), waitPort(haPort), waitPort(socatPort)]);
  const bare = await bareProxy(iperfPort);
  procs.push(bare);
  const paths = [
    ['direct', iperfPort],
    ['haproxy', haPort],
    ['socat', socatPort],
    ['node-bare-proxy', bare.port],
    ['connlog-agent', agentPort],
  ];

  const results = {};
  for (const n of streams) {
    for (let round = 0; round < opt.rounds; round += 1) {
      for (const [name, port] of alternate(paths, round)) {
        const gbps = await iperfGbits(port, { seconds: opt.seconds, streams: n, reverse });
        (results[`${n}:${name}`] ??= []).push(gbps);
      }
    }
  }
  const lines = [
    `iperf3${reverse ? ' -R (target → client)' : ''}, ${opt.seconds} s per run, ${opt.rounds} rounds alternated; Gbit/s, median (min–max)`,
    '',
    '| streams | path | Gbit/s | vs HAProxy | vs direct |',
    '| --- | --- | --- | --- | --- |',
  ];
  const rows = [];
  for (const n of streams) {
    const direct = median(results[`${n}:direct`]);
    const ha = median(results[`${n}:haproxy`]);
    for (const [name] of paths) {
      const values = results[`${n}:${name}`];
      const m = median(values);
      lines.push(`| ${n} | ${name} | ${summary(values)} | ${fmt(m / ha)} | ${fmt(m / direct)} |`);
    }
    const agent = median(results[`${n}:connlog-agent`]);
    const perRound = results[`${n}:connlog-agent`].map((v, i) => v / results[`${n}:haproxy`][i]);
    lines.push(
      `| ${n} | agent/HAProxy per round | ${perRound.map((r) => fmt(r)).join(', ')} | | |`,
    );
    rows.push({
      target: `TCP throughput, ${n} stream${n > 1 ? 's' : ''} (iperf3${reverse ? ' -R, target → client' : ''})`,
      reference: `HAProxy ${fmt(ha)} Gbit/s (direct ${fmt(direct)})`,
      measured: `${fmt(agent / ha)} × HAProxy (${fmt(agent)} Gbit/s)`,
      goal: '≥ 1.0',
      met: verdict(agent / ha >= 1),
    });
  }
  record(reverse ? 'tcp_throughput_reverse' : 'tcp_throughput', {
    command: `node bench/tcp_throughput.mjs --rounds ${opt.rounds} --seconds ${opt.seconds} --streams ${opt.streams}${reverse ? ' --reverse' : ''}`,
    rows,
    details: lines.join('\n'),
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
