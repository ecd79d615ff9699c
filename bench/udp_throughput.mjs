// UDP request/response throughput: a load generator process (bench/gen/udp_rr_client.mjs,
// `flows` sockets each keeping `window` requests in flight) against a UDP echo process,
// direct, through socat (UDP-LISTEN fork, one process per flow), through a bare Node
// relay (bench/gen/bare_udp_proxy.mjs: records nothing, the runtime's floor) and through
// connlog-agent (one flow = one recorded session); alternated, several rounds, for a
// small and a large datagram. Figures: datagrams/s and payload bytes/s through the path
// (both directions: every exchange is a request and a reply). Asserts nothing.
// Each run also counts CPU (/proc, user + system) per datagram of the proxy, the load
// generator, the echo server and nats-server; a run ends when the proxy has finished
// with its flows (socat's forked children exited, the agent's sessions ended and
// published), so that work is in it too.
//   node bench/udp_throughput.mjs [--rounds 3] [--seconds 5] [--flows 16] [--window 4]
//                                 [--sizes 64,1200] [--quick]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GEN,
  alternate,
  bareUdpProxy,
  connlogAgent,
  cpuMeter,
  proxyMeters,
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
  waitUntil,
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

/** Whether any process has `pid` as its parent (socat's forked relays still alive). */
function hasChildren(pid) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) is the second after the ")" of the command name.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return true;
    } catch {
      // The process exited while we looked.
    }
  }
  return false;
}

const dir = workDir('udp');
const procs = [];
try {
  const echoPort = await freePort();
  const echo = daemon(process.execPath, [join(GEN, 'udp_echo_server.mjs'), String(echoPort)]);
  procs.push(echo);
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
  const bare = await bareUdpProxy(echoPort);
  procs.push(bare);
  const paths = [
    ['direct', echoPort],
    ['node-bare-udp-proxy', bare.port],
    ['connlog-agent', agentPort],
  ];
  // What each path's proxy is, for the CPU meter.
  let proxyOf = proxyMeters({ bareUdp: bare.pid, agent: agent.pid });
  let socatPid = 0;
  if (withSocat) {
    const socatPort = await freePort();
    // -T 3: a forked child exits 3 s after its flow went quiet (UDP has no end).
    const socatProc = daemon('socat', [
      '-T',
      '3',
      `UDP-LISTEN:${socatPort},bind=127.0.0.1,reuseaddr,fork`,
      `UDP:127.0.0.1:${echoPort}`,
    ]);
    procs.push(socatProc);
    socatPid = socatProc.pid;
    proxyOf = proxyMeters({ bareUdp: bare.pid, agent: agent.pid, socat: socatPid });
    await sleep(300);
    paths.splice(1, 0, ['socat', socatPort]);
  }

  const results = {};
  // `${size}:${path}` → process → µs CPU per datagram, one value per round.
  const cpu = {};
  let lost = 0;
  // `${size}:${path}` → requests lost, all rounds: a relay that drops shows here.
  const lostBy = {};
  for (const size of sizes) {
    for (let round = 0; round < opt.rounds; round += 1) {
      for (const [name, port] of alternate(paths, round)) {
        const meter = cpuMeter({ ...proxyOf[name], target: echo.pid, nats: nats.pid });
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
        lostBy[`${size}:${name}`] = (lostBy[`${size}:${name}`] ?? 0) + out.lost;
        (results[`${size}:${name}`] ??= []).push(out.exchangesPerSec);
        if (name === 'socat') {
          await waitUntil(() => !hasChildren(socatPid), 30_000, "socat's relays to exit");
        } else if (name === 'connlog-agent') {
          await waitUntil(
            async () => {
              const started = await metric(
                agent.metricsUrl,
                'connlog_agent_sessions_started_total',
              );
              const ended = await metric(agent.metricsUrl, 'connlog_agent_sessions_ended_total');
              const published = await metric(
                agent.metricsUrl,
                'connlog_agent_events_published_total',
              );
              return ended >= started && published >= 2 * started;
            },
            30_000,
            "the agent's UDP sessions to end and be published",
          );
        }
        const used = meter();
        const perDatagram = (cpu[`${size}:${name}`] ??= {});
        for (const [proc, seconds] of Object.entries(used)) {
          (perDatagram[proc] ??= []).push((seconds * 1e6) / (2 * out.allReplies));
        }
      }
    }
  }

  // What the agent recorded: every flow of every run is a session (ended by idle_timeout).
  await sleep(2500);
  const sessions = await metric(agent.metricsUrl, 'connlog_agent_sessions_started_total');

  const header =
    `UDP request/response through each path: ${opt.flows} flows × ${opt.window} in flight, ` +
    `${opt.seconds} s per run, ${opt.rounds} rounds alternated; median (min–max). ` +
    'Datagrams/s and payload MB/s count both directions (request + reply); ' +
    'lost: requests without a reply within 200 ms, all rounds.';
  const table = [
    '| size | path | datagrams/s | payload MB/s | vs direct | vs socat | vs bare relay | lost |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = [];
  for (const size of sizes) {
    const direct = median(results[`${size}:direct`]);
    const socat = withSocat ? median(results[`${size}:socat`]) : NaN;
    const bareRelay = median(results[`${size}:node-bare-udp-proxy`]);
    for (const [name] of paths) {
      const exchanges = results[`${size}:${name}`];
      const datagrams = exchanges.map((x) => 2 * x);
      const mbps = exchanges.map((x) => (2 * x * size) / 1e6);
      const m = median(exchanges);
      table.push(
        `| ${size} B | ${name} | ${summary(datagrams, 0)} | ${summary(mbps, 1)} | ${fmt(m / direct)} | ${fmt(m / socat)} | ${fmt(m / bareRelay)} | ${lostBy[`${size}:${name}`]} |`,
      );
    }
    const agent = median(results[`${size}:connlog-agent`]);
    // Whether any Node relay reaches the goal here: the bare one is the runtime's floor.
    const bareNote = `a bare Node relay, recording nothing: ${fmt(bareRelay / direct)} × direct`;
    rows.push({
      target: `UDP request/response, ${size} B datagrams, ${opt.flows} flows: datagrams/s through connlog-agent`,
      reference: `direct ${fmt(2 * direct, 0)}/s${withSocat ? `; socat ${fmt(2 * socat, 0)}/s` : ''}; bare Node relay ${fmt(2 * bareRelay, 0)}/s`,
      measured: `${fmt(2 * agent, 0)}/s, ${fmt((2 * agent * size) / 1e6, 1)} MB/s (${fmt(agent / direct)}× direct${withSocat ? `, ${fmt(agent / socat)}× socat` : ''}, ${fmt(agent / bareRelay)}× bare relay)`,
      // The issue's target: report first, then ≥ 0.5 × direct.
      goal: '≥ 0.5 × direct',
      met: verdict(agent / direct >= 0.5),
      notes: bareNote,
    });
    rows.push({
      target: `UDP request/response, ${size} B datagrams, ${opt.flows} flows: datagrams/s through a bare Node relay (bench/gen/bare_udp_proxy.mjs, records nothing)`,
      reference: `direct ${fmt(2 * direct, 0)}/s`,
      measured: `${fmt(2 * bareRelay, 0)}/s (${fmt(bareRelay / direct)}× direct)`,
      goal: '—',
      met: verdict(undefined),
      notes: 'the runtime’s floor: whether any Node.js UDP relay reaches 0.5 × direct here',
    });
  }
  // CPU per datagram: what each path costs the machine, and the datagrams/s two cores
  // (or a Node relay's one JavaScript thread) could carry at that cost.
  const us = (key, proc) => median(cpu[key][proc] ?? [0]);
  const cpuTable = [
    'CPU per datagram through the path (/proc utime + stime, all threads; µs, median over rounds; ' +
      'a datagram is a request or a reply; "JS" = a Node proxy\'s main thread):',
    '',
    '| size | path | proxy | proxy JS | generator | echo server | nats-server | sum | 2 cores at that cost, datagrams/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ceilings = [];
  for (const size of sizes) {
    for (const [name] of paths) {
      const key = `${size}:${name}`;
      const sum = us(key, 'proxy') + us(key, 'generator') + us(key, 'target') + us(key, 'nats');
      cpuTable.push(
        `| ${size} B | ${name} | ${name === 'direct' ? '—' : summary(cpu[key].proxy, 1)} | ${cpu[key].proxyJs ? fmt(us(key, 'proxyJs'), 1) : '—'} | ${fmt(us(key, 'generator'), 1)} | ${fmt(us(key, 'target'), 1)} | ${fmt(us(key, 'nats'), 1)} | ${fmt(sum, 1)} | ${fmt(2e6 / sum, 0)} |`,
      );
    }
    const key = `${size}:connlog-agent`;
    const bareKey = `${size}:node-bare-udp-proxy`;
    // 0.5 × direct's datagrams/s, carried by one JavaScript thread, leaves it this much
    // CPU per datagram (direct's exchanges/s are half its datagrams/s).
    const half = median(results[`${size}:direct`]);
    const most = (k) =>
      `${fmt(us(k, 'proxyJs'), 1)} µs (${fmt(us(k, 'proxy'), 1)} µs all threads), so it can carry ` +
      `at most ${fmt(1e6 / us(k, 'proxyJs'), 0)} datagrams/s (${fmt(1e6 / us(k, 'proxyJs') / (2 * half))} × direct)`;
    ceilings.push(
      `Ceiling, ${size} B: 0.5 × direct is ${fmt(half, 0)} datagrams/s, which leaves a Node relay's JS thread ` +
        `≤ ${fmt(1e6 / half, 1)} µs per datagram at a full core; the agent's spends ${most(key)}; ` +
        `the bare relay's spends ${most(bareKey)}.`,
    );
    rows.push({
      target: `UDP, ${size} B datagrams: CPU per datagram`,
      reference: `echo server ${fmt(us(`${size}:direct`, 'target'), 1)} µs${withSocat ? `; socat ${fmt(us(`${size}:socat`, 'proxy'), 1)} µs` : ''}; bare Node relay ${fmt(us(bareKey, 'proxy'), 1)} µs (${fmt(us(bareKey, 'proxyJs'), 1)} µs JS thread)`,
      measured: `connlog-agent ${fmt(us(key, 'proxy'), 1)} µs (${fmt(us(key, 'proxyJs'), 1)} µs JS thread: ≤ ${fmt(1e6 / us(key, 'proxyJs'), 0)} datagrams/s at 1 core)`,
      goal: '—',
      met: verdict(undefined),
    });
  }
  const details = [
    header,
    '',
    ...table,
    '',
    ...cpuTable,
    '',
    ...ceilings,
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
