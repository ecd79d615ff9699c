// TCP session churn: a load generator process (bench/gen/churn_client.mjs) does
// connect → 64 B → 64 B echo → close as fast as it can, through connlog-agent (every
// session recorded and published to JetStream), through HAProxy (mode tcp), through
// socat, and direct; alternated, several rounds. Afterwards every agent session must
// have been published (agent metrics and the stream's event count).
// Each run also counts CPU (/proc, user + system) per session of the proxy (and of its
// JavaScript thread for the Node proxies), the load generator, the echo server and
// nats-server: what one session costs the machine on each path, hence the rate two
// cores could sustain at that cost, and the per-session budget HAProxy's rate leaves a
// proxy against what a Node proxy that records nothing already spends.
//   node bench/tcp_churn.mjs [--rounds 3] [--seconds 5] [--concurrency 64] [--quick]
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
  metric,
  options,
  record,
  requireTools,
  socat,
  summary,
  verdict,
  waitPort,
  waitUntil,
  workDir,
} from './lib.mjs';

/** Wait until the agent has ended `attempted` sessions and published their 2 events each. */
async function agentCaughtUp(agent, attempted) {
  await waitUntil(
    async () =>
      (await metric(agent.metricsUrl, 'connlog_agent_sessions_ended_total')) >= attempted &&
      (await metric(agent.metricsUrl, 'connlog_agent_events_published_total')) >= 2 * attempted,
    120_000,
    'the agent to end and publish every session',
  ).catch(() => undefined);
}

const opt = options({ rounds: [3, 1], seconds: [5, 1], concurrency: [64, 8] });

requireTools('nats-server', 'haproxy', 'socat');
const FILES = 65_536;
const dir = workDir('churn');
const procs = [];
try {
  const { echo, nats, agent, agentPort } = await echoBehindAgent(dir.path, procs, {
    files: FILES,
  });
  const haPort = await freePort();
  const haProc = haproxy(dir.path, haPort, echo.port, 8192);
  procs.push(haProc);
  const socatPort = await freePort();
  const socatProc = socat(socatPort, echo.port);
  procs.push(socatProc);
  await Promise.all([waitPort(agentPort), waitPort(haPort), waitPort(socatPort)]);

  const bare = await bareProxy(echo.port, FILES);
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
  const rates = {};
  // path → process → µs CPU per session, one value per round.
  const cpu = {};
  let agentSessions = 0;
  let agentErrors = 0;
  for (let round = 0; round < opt.rounds; round += 1) {
    for (const [name, port] of alternate(paths, round)) {
      const meter = cpuMeter({ ...proxyOf[name], target: echo.pid, nats: nats.pid });
      const r = await generator(
        'churn_client.mjs',
        [
          '--port',
          String(port),
          '--seconds',
          String(opt.seconds),
          '--concurrency',
          String(opt.concurrency),
        ],
        { files: FILES },
      );
      (rates[name] ??= []).push(r.sessions / r.seconds);
      if (name === 'connlog-agent') {
        agentSessions += r.sessions;
        agentErrors += r.errors;
        // The recording is part of a session's cost: wait until it is done.
        await agentCaughtUp(agent, agentSessions + agentErrors);
      }
      const used = meter();
      const perSession = (cpu[name] ??= {});
      for (const [proc, seconds] of Object.entries(used)) {
        (perSession[proc] ??= []).push((seconds * 1e6) / (r.sessions + r.errors));
      }
    }
  }

  // Every session through the agent is recorded (START + END) and published.
  const attempted = agentSessions + agentErrors;
  const started = await waitUntil(
    async () => {
      const n = await metric(agent.metricsUrl, 'connlog_agent_sessions_ended_total');
      return n >= attempted ? n : 0;
    },
    60_000,
    'the agent to end every session',
  ).catch(() => NaN);
  const published = await waitUntil(
    async () => {
      const n = await metric(agent.metricsUrl, 'connlog_agent_events_published_total');
      return n >= 2 * attempted ? n : 0;
    },
    120_000,
    'the agent to publish every event',
  ).catch(async () => metric(agent.metricsUrl, 'connlog_agent_events_published_total'));
  const notRecorded = await metric(agent.metricsUrl, 'connlog_agent_sessions_not_recorded_total');

  const ha = median(rates.haproxy);
  const ratios = [];
  for (let i = 0; i < opt.rounds; i += 1) ratios.push(rates['connlog-agent'][i] / rates.haproxy[i]);
  const ratio = median(rates['connlog-agent']) / ha;
  const lines = [
    `Sessions/s (connect, 64 B each way, close; ${opt.concurrency} concurrent loops, ${opt.seconds} s per run, ${opt.rounds} rounds alternated): median (min–max)`,
    '',
    '| path | sessions/s | vs HAProxy | vs direct |',
    '| --- | --- | --- | --- |',
    ...paths.map(
      ([name]) =>
        `| ${name} | ${summary(rates[name], 0)} | ${fmt(median(rates[name]) / ha)} | ${fmt(median(rates[name]) / median(rates.direct))} |`,
    ),
    '',
    `Agent/HAProxy per round: ${ratios.map((r) => fmt(r)).join(', ')}.`,
    `Through the agent: ${attempted} sessions attempted (${agentErrors} failed at the client), ` +
      `${started} ended in the agent, ${published} events published to JetStream ` +
      `(2 per session expected: ${2 * attempted}), ${notRecorded} not recorded.`,
  ];
  // The CPU ceiling. Per path: µs of CPU per session for each process, their sum, and
  // the rate two cores could sustain at that cost (2e6 µs of CPU per second / sum).
  const us = (name, proc) => median(cpu[name][proc] ?? [0]);
  const load = (name) => us(name, 'generator') + us(name, 'target');
  const total = (name) => us(name, 'proxy') + load(name) + us(name, 'nats');
  const cores = 2;
  lines.push(
    '',
    `CPU per session (/proc utime + stime, all threads; median over rounds, µs; "JS" = the Node proxy's main thread; ` +
      `the generator and the echo server are the load; nats-server receives the agent's events):`,
    '',
    '| path | proxy | proxy JS | generator | echo server | nats-server | sum | cores busy | 2 cores at that cost, sessions/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...paths.map(([name]) => {
      const js = cpu[name].proxyJs ? fmt(us(name, 'proxyJs'), 0) : '—';
      return `| ${name} | ${name === 'direct' ? '—' : summary(cpu[name].proxy, 0)} | ${js} | ${fmt(us(name, 'generator'), 0)} | ${fmt(us(name, 'target'), 0)} | ${fmt(us(name, 'nats'), 0)} | ${fmt(total(name), 0)} | ${fmt((total(name) * median(rates[name])) / 1e6)} | ${fmt((cores * 1e6) / total(name), 0)} |`;
    }),
  );
  // HAProxy's rate leaves each session 2e6 / rate µs of CPU; the load (generator + echo
  // server, as measured on HAProxy's path) takes its share, the proxy gets the rest.
  const budget = (cores * 1e6) / ha - load('haproxy');
  const bareUs = us('node-bare-proxy', 'proxy');
  const agentUs = us('connlog-agent', 'proxy') + us('connlog-agent', 'nats');
  lines.push(
    '',
    `Ceiling: at HAProxy's ${fmt(ha, 0)} sessions/s, ${cores} cores give each session ${fmt((cores * 1e6) / ha, 0)} µs of CPU; ` +
      `the load takes ${fmt(load('haproxy'), 0)} µs of it, so the agent would have to proxy, record and publish a session ` +
      `in ≤ ${fmt(budget, 0)} µs of CPU (HAProxy itself: ${fmt(us('haproxy', 'proxy'), 0)} µs). ` +
      `The bare Node proxy, which records nothing, already costs ${fmt(bareUs, 0)} µs ` +
      `(${fmt(us('node-bare-proxy', 'proxyJs'), 0)} µs on its JS thread); the agent ${fmt(us('connlog-agent', 'proxy'), 0)} µs ` +
      `(${fmt(us('connlog-agent', 'proxyJs'), 0)} µs JS) + ${fmt(us('connlog-agent', 'nats'), 0)} µs in nats-server. ` +
      `One JS thread caps the agent at ${fmt(1e6 / us('connlog-agent', 'proxyJs'), 0)} sessions/s and the bare proxy at ` +
      `${fmt(1e6 / us('node-bare-proxy', 'proxyJs'), 0)} sessions/s, however many cores.`,
  );
  const allPublished = published >= 2 * attempted && notRecorded === 0;
  record('tcp_churn', {
    command: `node bench/tcp_churn.mjs --rounds ${opt.rounds} --seconds ${opt.seconds} --concurrency ${opt.concurrency}`,
    rows: [
      {
        target: 'TCP session churn, every session recorded and published',
        reference: `HAProxy ${fmt(ha, 0)} sessions/s`,
        measured: `${fmt(ratio)} × HAProxy (${fmt(median(rates['connlog-agent']), 0)} sessions/s); ${allPublished ? 'all' : 'NOT all'} ${attempted} sessions published`,
        goal: '≥ 1.0',
        met: verdict(ratio >= 1 && allPublished),
      },
      {
        target: 'TCP session churn: CPU per session, the ceiling on 2 cores',
        reference: `HAProxy's rate leaves a proxy ≤ ${fmt(budget, 0)} µs/session (HAProxy uses ${fmt(us('haproxy', 'proxy'), 0)})`,
        measured: `bare Node proxy ${fmt(bareUs, 0)} µs/session (records nothing); agent ${fmt(agentUs, 0)} µs incl. nats-server`,
        goal: '—',
        met: verdict(undefined),
      },
    ],
    details: lines.join('\n'),
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
