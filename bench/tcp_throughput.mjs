// Single- and multi-stream TCP throughput: iperf3 direct vs through HAProxy (mode tcp)
// vs through socat vs through connlog-agent, measured side by side, alternated, several
// rounds. Prints figures; asserts nothing.
// `--reverse` runs iperf3 -R: the bytes flow target → client (a download), the direction
// in which the agent reads into its own buffers.
// Each run also counts CPU (/proc, user + system) per GB received, of the proxy (and of
// its JavaScript thread for the Node proxies) and of the iperf3 client and server: a
// Node proxy relays on one event loop, so 8 / (its JS thread's CPU-s per GB) is the most
// Gbit/s it can reach with a whole core, whatever the other core does.
//   node bench/tcp_throughput.mjs [--rounds 3] [--seconds 5] [--streams 1,8] [--reverse] [--quick]
import {
  alternate,
  bareProxy,
  connlogAgent,
  cpuMeter,
  proxyMeters,
  daemon,
  ensureStream,
  fmt,
  freePort,
  haproxy,
  median,
  options,
  record,
  iperf,
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
  const iperfServer = daemon('iperf3', ['-s', '-p', String(iperfPort), '-B', '127.0.0.1']);
  procs.push(iperfServer);
  await waitPort(iperfPort);
  const nats = await startNats(dir.path);
  procs.push(nats);
  await ensureStream(nats.url);
  const agentPort = await freePort();
  const agent = await connlogAgent(dir.path, nats.url, [
    {
      id: 'iperf',
      protocol: 'tcp',
      listen: `127.0.0.1:${agentPort}`,
      target: `127.0.0.1:${iperfPort}`,
    },
  ]);
  procs.push(agent);
  const haPort = await freePort();
  const haProc = haproxy(dir.path, haPort, iperfPort);
  procs.push(haProc);
  const socatPort = await freePort();
  const socatProc = socat(socatPort, iperfPort);
  procs.push(socatProc);
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

  // What each path's proxy is, for the CPU meter.
  const proxyOf = proxyMeters({
    haproxy: haProc.pid,
    socat: socatProc.pid,
    bare: bare.pid,
    agent: agent.pid,
  });
  const results = {};
  // `${streams}:${path}` → process → CPU seconds per GB received, one value per round.
  const cpu = {};
  for (const n of streams) {
    for (let round = 0; round < opt.rounds; round += 1) {
      for (const [name, port] of alternate(paths, round)) {
        const meter = cpuMeter({ ...proxyOf[name], server: iperfServer.pid });
        const r = await iperf(port, { seconds: opt.seconds, streams: n, reverse });
        const used = meter();
        (results[`${n}:${name}`] ??= []).push(r.gbps);
        const perGB = (cpu[`${n}:${name}`] ??= {});
        for (const [proc, seconds] of Object.entries(used)) {
          (perGB[proc] ??= []).push(seconds / (r.bytes / 1e9));
        }
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
  // The CPU ceiling: CPU-s per GB of each process; what one core (the event loop of a
  // Node proxy) or both cores could relay at that cost.
  const sPerGB = (key, proc) => median(cpu[key][proc] ?? [0]);
  lines.push(
    '',
    'CPU per GB received (/proc utime + stime, all threads; median over rounds, CPU-s/GB; "JS" = the Node ' +
      "proxy's main thread; the iperf3 client is the generator, the server the target). " +
      'Max Gbit/s = 8 / CPU-s per GB: at 1 core for the proxy alone, at 2 cores for the sum.',
    '',
    '| streams | path | proxy | proxy JS | iperf3 client + server | sum | max Gbit/s, proxy at 1 core | max Gbit/s, proxy JS thread at 1 core | max Gbit/s, sum at 2 cores |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  const ceilings = [];
  for (const n of streams) {
    for (const [name] of paths) {
      const key = `${n}:${name}`;
      const proxy = sPerGB(key, 'proxy');
      const js = sPerGB(key, 'proxyJs');
      const load = sPerGB(key, 'generator') + sPerGB(key, 'server');
      const direct = name === 'direct';
      lines.push(
        `| ${n} | ${name} | ${direct ? '—' : summary(cpu[key].proxy)} | ${cpu[key].proxyJs ? fmt(js) : '—'} | ${fmt(load)} | ${fmt(proxy + load)} | ${direct ? '—' : fmt(8 / proxy, 1)} | ${cpu[key].proxyJs ? fmt(8 / js, 1) : '—'} | ${fmt(16 / (proxy + load), 1)} |`,
      );
    }
    const ha = median(results[`${n}:haproxy`]);
    const bareJs = sPerGB(`${n}:node-bare-proxy`, 'proxyJs');
    const agentJs = sPerGB(`${n}:connlog-agent`, 'proxyJs');
    const ceiling = `${n} stream${n > 1 ? 's' : ''}: HAProxy measured ${fmt(ha)} Gbit/s using ${fmt(sPerGB(`${n}:haproxy`, 'proxy'))} CPU-s/GB; one event loop at a full core relays at most ${fmt(8 / bareJs, 1)} Gbit/s for the bare Node proxy (${fmt(bareJs)} CPU-s/GB on its JS thread, nothing recorded) and ${fmt(8 / agentJs, 1)} Gbit/s for the agent (${fmt(agentJs)} CPU-s/GB).`;
    ceilings.push(`Ceiling, ${ceiling}`);
    rows.push({
      target: `TCP throughput, ${n} stream${n > 1 ? 's' : ''}${reverse ? ' (-R)' : ''}: the one-event-loop ceiling`,
      reference: `HAProxy ${fmt(ha)} Gbit/s`,
      measured: `max at 1 core: bare Node proxy ${fmt(8 / bareJs, 1)} Gbit/s, agent ${fmt(8 / agentJs, 1)} Gbit/s (8 / JS-thread CPU-s per GB)`,
      goal: '—',
      met: verdict(undefined),
    });
  }
  lines.push('', ...ceilings);
  record(reverse ? 'tcp_throughput_reverse' : 'tcp_throughput', {
    command: `node bench/tcp_throughput.mjs --rounds ${opt.rounds} --seconds ${opt.seconds} --streams ${opt.streams}${reverse ? ' --reverse' : ''}`,
    rows,
    details: lines.join('\n'),
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
