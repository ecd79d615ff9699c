// Single- and multi-stream TCP throughput: iperf3 direct vs through HAProxy (mode tcp)
// vs through connlog-agent, measured side by side, alternated, several rounds.
// Prints figures; asserts nothing.  Usage: node bench/tcp_throughput.mjs [--rounds 3]
// [--seconds 5] [--streams 1,8] [--quick]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  connlogAgent,
  daemon,
  ensureStream,
  fmt,
  freePort,
  haproxy,
  have,
  median,
  natsServer,
  spread,
  waitPort,
  workDir,
} from './lib.mjs';

const run = promisify(execFile);
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const quick = args.includes('--quick');
const rounds = Number(opt('rounds', quick ? 1 : 3));
const seconds = Number(opt('seconds', quick ? 1 : 5));
const streams = String(opt('streams', quick ? '1' : '1,8'))
  .split(',')
  .map(Number);

for (const tool of ['iperf3', 'nats-server']) {
  if (!have(tool)) {
    console.error(`${tool} is required (Debian: apt-get install ${tool})`);
    process.exit(1);
  }
}
const withHaproxy = have('haproxy');

const dir = workDir('tcp');
const procs = [];
try {
  const iperfPort = await freePort();
  procs.push(daemon('iperf3', ['-s', '-p', String(iperfPort), '-B', '127.0.0.1']));
  await waitPort(iperfPort);
  const natsPort = await freePort();
  procs.push(natsServer(dir.path, natsPort));
  await waitPort(natsPort);
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  await ensureStream(natsUrl);

  const agentPort = await freePort();
  procs.push(
    await connlogAgent(dir.path, natsUrl, [
      {
        id: 'iperf',
        protocol: 'tcp',
        listen: `127.0.0.1:${agentPort}`,
        target: `127.0.0.1:${iperfPort}`,
      },
    ]),
  );
  await waitPort(agentPort);
  const paths = [
    ['direct', iperfPort],
    ['connlog-agent', agentPort],
  ];
  if (withHaproxy) {
    const haPort = await freePort();
    procs.push(haproxy(dir.path, haPort, iperfPort));
    await waitPort(haPort);
    paths.splice(1, 0, ['haproxy', haPort]);
  }

  const results = {};
  for (const n of streams) {
    for (let round = 0; round < rounds; round += 1) {
      // Alternate the order each round so drift on a shared machine hits all paths alike.
      const order = round % 2 === 0 ? paths : [...paths].reverse();
      for (const [name, port] of order) {
        const { stdout } = await run('iperf3', [
          '-c',
          '127.0.0.1',
          '-p',
          String(port),
          '-t',
          String(seconds),
          '-P',
          String(n),
          '-J',
        ]);
        const report = JSON.parse(stdout);
        const gbps = report.end.sum_received.bits_per_second / 1e9;
        (results[`${n}:${name}`] ??= []).push(gbps);
      }
    }
  }
  console.log(
    `\nTCP throughput (iperf3, ${seconds}s per run, ${rounds} rounds alternated), Gbit/s`,
  );
  console.log('| streams | path | median | spread | ratio vs haproxy | ratio vs direct |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const n of streams) {
    const direct = median(results[`${n}:direct`]);
    const ha = results[`${n}:haproxy`] ? median(results[`${n}:haproxy`]) : NaN;
    for (const [name] of paths) {
      const values = results[`${n}:${name}`];
      const m = median(values);
      console.log(
        `| ${n} | ${name} | ${fmt(m)} | ${fmt(spread(values))} | ${fmt(m / ha)} | ${fmt(m / direct)} |`,
      );
    }
  }
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
