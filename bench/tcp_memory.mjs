// Memory: connlog-agent's RSS idle (started, no session) and holding `sessions`
// concurrent idle TCP sessions (each established end to end: 64 B echoed, then quiet),
// read from /proc/<pid>/status VmRSS. HAProxy's RSS under the same load is printed
// for reference. The client (bench/gen/idle_client.mjs) is its own process.
//   node bench/tcp_memory.mjs [--sessions 10000] [--quick]
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  AGENT_NODE_FLAGS,
  echoBehindAgent,
  GEN,
  bareProxy,
  fmt,
  freePort,
  haproxy,
  metric,
  options,
  procStatus,
  record,
  requireTools,
  sleep,
  verdict,
  waitPort,
  waitUntil,
  workDir,
} from './lib.mjs';

// A session holds two descriptors in the proxy (client and target side), and this
// process cannot raise its hard RLIMIT_NOFILE (no CAP_SYS_RESOURCE in a container), so
// the session count is capped to what the hard limit allows; the figure for the full
// count is then extrapolated from the measured per-session cost.
const HARD = Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim()) || 1024;
// --node-args: V8/Node flags for the agent (e.g. "--max-semi-space-size=2"), to try.
const opt = options({ sessions: [10_000, 500], 'node-args': ['', ''] });
const nodeArgs = opt['node-args'].split(' ').filter(Boolean);
const wanted = opt.sessions;
const sessions = Math.min(wanted, Math.floor((HARD - 200) / 2));
const FILES = HARD;
const MiB = 1024 * 1024;

/** Hold `count` idle sessions to `port` until `release()`. */
async function hold(port, count) {
  const child = spawn(
    'sh',
    [
      '-c',
      `ulimit -n ${FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`,
      'sh',
      process.execPath,
      join(GEN, 'idle_client.mjs'),
      '--port',
      String(port),
      '--count',
      String(count),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.once('exit', () => child.kill('SIGKILL'));
  const result = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`idle_client exited ${code}`)));
  });
  return {
    ...result,
    release: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const dir = workDir('memory');
const procs = [];
try {
  const { echo, agent, agentPort } = await echoBehindAgent(dir.path, procs, {
    files: FILES,
    nodeArgs,
  });
  await waitPort(agentPort);
  // Let startup garbage settle before the idle figure.
  await sleep(opt.quick ? 500 : 3000);
  const idle = procStatus(agent.pid, 'VmRSS');

  const held = await hold(agentPort, sessions);
  const open = await waitUntil(
    async () => {
      const n = await metric(agent.metricsUrl, 'connlog_agent_sessions_open');
      return n >= held.held ? n : 0;
    },
    60_000,
    'the agent to report every session open',
  ).catch(() => NaN);
  await sleep(opt.quick ? 500 : 3000);
  const loaded = procStatus(agent.pid, 'VmRSS');
  const peak = procStatus(agent.pid, 'VmHWM');
  await held.release();

  const haPort = await freePort();
  const ha = haproxy(dir.path, haPort, echo.port, sessions + 10);
  procs.push(ha);
  await waitPort(haPort);
  const haIdle = procStatus(ha.pid, 'VmRSS');
  const haHeld = await hold(haPort, sessions);
  await sleep(opt.quick ? 500 : 3000);
  const haLoaded = procStatus(ha.pid, 'VmRSS');
  await haHeld.release();

  const perSession = (loaded - idle) / held.held;
  const atWanted = idle + perSession * wanted;
  const capped = sessions < wanted;
  // The runtime's floor: a bare Node pipe proxy holding the same sessions.
  const bare = await bareProxy(echo.port, FILES);
  procs.push(bare);
  await sleep(opt.quick ? 500 : 3000);
  const bareIdle = procStatus(bare.pid, 'VmRSS');
  const bareHeld = await hold(bare.port, sessions);
  await sleep(opt.quick ? 500 : 3000);
  const bareLoaded = procStatus(bare.pid, 'VmRSS');
  await bareHeld.release();

  const details = [
    `| process | idle RSS | RSS with ${sessions} idle sessions | per session |`,
    '| --- | --- | --- | --- |',
    `| connlog-agent | ${fmt(idle / MiB, 1)} MiB | ${fmt(loaded / MiB, 1)} MiB (peak ${fmt(peak / MiB, 1)}) | ${fmt((loaded - idle) / held.held / 1024, 2)} KiB |`,
    `| haproxy | ${fmt(haIdle / MiB, 1)} MiB | ${fmt(haLoaded / MiB, 1)} MiB | ${fmt((haLoaded - haIdle) / haHeld.held / 1024, 2)} KiB |`,
    `| node-bare-proxy (records nothing) | ${fmt(bareIdle / MiB, 1)} MiB | ${fmt(bareLoaded / MiB, 1)} MiB | ${fmt((bareLoaded - bareIdle) / bareHeld.held / 1024, 2)} KiB |`,
    '',
    `The agent ran as \`node ${[...AGENT_NODE_FLAGS, ...nodeArgs].join(' ')} bin/connlog-agent.js\` (its shebang's flags${nodeArgs.length ? ', then --node-args' : ''}).`,
    `Client held ${held.held} sessions through the agent (${held.errors} errors); the agent reported ${open} open.`,
    capped
      ? `The hard open-file limit here is ${HARD} (not raisable without CAP_SYS_RESOURCE) and a proxied session needs 2 descriptors, so ${sessions} sessions were held; ${wanted} is extrapolated from the measured ${fmt(perSession / 1024, 2)} KiB per session.`
      : '',
  ].join('\n');
  record('tcp_memory', {
    command: `node bench/tcp_memory.mjs --sessions ${wanted}${nodeArgs.length ? ` --node-args "${nodeArgs.join(' ')}"` : ''}`,
    rows: [
      {
        target: `agent RSS with ${wanted} concurrent idle TCP sessions`,
        reference: `HAProxy ${fmt(haLoaded / MiB, 1)} MiB at ${sessions}`,
        measured: capped
          ? `${fmt(loaded / MiB, 1)} MiB at ${sessions} sessions (fd limit), ≈ ${fmt(atWanted / MiB, 1)} MiB at ${wanted}`
          : `${fmt(loaded / MiB, 1)} MiB`,
        goal: '≤ 150 MB',
        met: verdict(atWanted <= 150e6 && held.held === sessions),
      },
      {
        target: 'idle agent RSS',
        reference: `HAProxy ${fmt(haIdle / MiB, 1)} MiB`,
        measured: `${fmt(idle / MiB, 1)} MiB`,
        goal: '≤ 60 MB',
        met: verdict(idle <= 60e6),
      },
    ],
    details,
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
