// TCP session churn: a load generator process (bench/gen/churn_client.mjs) does
// connect → 64 B → 64 B echo → close as fast as it can, through connlog-agent (every
// session recorded and published to JetStream), through HAProxy (mode tcp), through
// socat, and direct; alternated, several rounds. Afterwards every agent session must
// have been published (agent metrics and the stream's event count).
//   node bench/tcp_churn.mjs [--rounds 3] [--seconds 5] [--concurrency 64] [--quick]
import {
  echoBehindAgent,
  alternate,
  bareProxy,
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
  procs.push(haproxy(dir.path, haPort, echo.port, 8192));
  const socatPort = await freePort();
  procs.push(socat(socatPort, echo.port));
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
  const rates = {};
  let agentSessions = 0;
  let agentErrors = 0;
  for (let round = 0; round < opt.rounds; round += 1) {
    for (const [name, port] of alternate(paths, round)) {
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
    ],
    details: lines.join('\n'),
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
