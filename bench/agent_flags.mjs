// A/B of the Node/V8 flags the agent runs with: two or three agents side by side (one
// NATS, one echo target, one iperf3 server), each started as
// `node <bin's shebang flags> <these flags> bin/connlog-agent.js`, alternated per round:
// churn (connect → 64 B → echo → close, 64 loops) and one iperf3 stream through each.
// Prints sessions/s, the agent's CPU µs per session (utime + stime from /proc), Gbit/s
// and CPU s per GB: CPU per unit of work holds up on a busy machine where rates do not.
//   node bench/agent_flags.mjs --a "" --b "--max-semi-space-size=16" [--c "..."]
//                              [--rounds 3] [--seconds 5]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  connlogAgent,
  cpuSeconds,
  daemon,
  echoServer,
  ensureStream,
  freePort,
  generator,
  median,
  options,
  requireTools,
  iperf,
  sleep,
  startNats,
  waitPort,
  workDir,
} from './lib.mjs';

const opt = options({ a: ['', ''], b: ['', ''], c: ['-', '-'], rounds: [3, 1], seconds: [5, 1] });
requireTools('nats-server', 'iperf3');
const FILES = 65_536;

const dir = workDir('agent-flags');
const procs = [];
try {
  const echo = await echoServer(FILES);
  procs.push(echo);
  const iperfPort = await freePort();
  procs.push(daemon('iperf3', ['-s', '-p', String(iperfPort), '-B', '127.0.0.1']));
  await waitPort(iperfPort);
  const nats = await startNats(dir.path);
  procs.push(nats);
  await ensureStream(nats.url);
  const configs = [
    ['A', opt.a],
    ['B', opt.b],
  ];
  if (opt.c !== '-') configs.push(['C', opt.c]);
  const agents = [];
  for (const [name, flags] of configs) {
    const echoPort = await freePort();
    const iperfProxyPort = await freePort();
    mkdirSync(join(dir.path, name));
    const agent = await connlogAgent(
      join(dir.path, name),
      nats.url,
      [
        {
          id: 'echo',
          protocol: 'tcp',
          listen: `127.0.0.1:${echoPort}`,
          target: `127.0.0.1:${echo.port}`,
        },
        {
          id: 'iperf',
          protocol: 'tcp',
          listen: `127.0.0.1:${iperfProxyPort}`,
          target: `127.0.0.1:${iperfPort}`,
        },
      ],
      {},
      { files: FILES, nodeArgs: String(flags).split(' ').filter(Boolean) },
    );
    procs.push(agent);
    agents.push({
      name,
      flags,
      agent,
      echoPort,
      iperfProxyPort,
      rate: [],
      usPerSession: [],
      gbps: [],
      sPerGB: [],
    });
  }
  for (let round = 0; round < opt.rounds; round += 1) {
    const order = round % 2 === 0 ? agents : [...agents].reverse();
    for (const a of order) {
      const before = cpuSeconds(a.agent.pid);
      const r = await generator(
        'churn_client.mjs',
        ['--port', String(a.echoPort), '--seconds', String(opt.seconds), '--concurrency', '64'],
        { files: FILES },
      );
      await sleep(300); // the last sessions' END events
      a.rate.push(r.sessions / r.seconds);
      a.usPerSession.push(((cpuSeconds(a.agent.pid) - before) / r.sessions) * 1e6);
    }
    for (const a of order) {
      const before = cpuSeconds(a.agent.pid);
      const { gbps } = await iperf(a.iperfProxyPort, { seconds: opt.seconds });
      a.gbps.push(gbps);
      a.sPerGB.push((cpuSeconds(a.agent.pid) - before) / ((gbps * opt.seconds) / 8));
    }
  }
  const list = (values, digits) => values.map((v) => v.toFixed(digits)).join(', ');
  console.log(`${opt.rounds} rounds of ${opt.seconds} s, alternated; median [each round]`);
  for (const a of agents) {
    console.log(
      `${a.name} flags "${a.flags}": churn ${median(a.rate).toFixed(0)} sessions/s [${list(a.rate, 0)}], ` +
        `${median(a.usPerSession).toFixed(0)} µs CPU/session [${list(a.usPerSession, 0)}]; ` +
        `iperf3 ${median(a.gbps).toFixed(2)} Gbit/s [${list(a.gbps, 2)}], ${median(a.sPerGB).toFixed(2)} s CPU/GB [${list(a.sPerGB, 2)}]`,
    );
  }
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
