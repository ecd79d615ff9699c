// Helpers shared by the benchmark scripts: start reference proxies and connlog
// processes, run load generators as separate processes, summarize rounds, and record
// results for the report (bench/report.mjs).
import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { shebangNodeFlags } from '@connlog/testkit';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
export const AGENT_BIN = join(repo, 'agent', 'bin', 'connlog-agent.js');
export const AGENT_NODE_FLAGS = shebangNodeFlags(AGENT_BIN);
export const COLLECTOR_BIN = join(repo, 'collector', 'bin', 'connlog-collector.js');
export const GEN = join(repo, 'bench', 'gen');

/**
 * Command-line options of a benchmark script: `--name value` pairs and `--quick`.
 * `defaults` maps a name to `[full, quick]`.
 */
export function options(defaults) {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const out = { quick };
  for (const [name, [full, small]] of Object.entries(defaults)) {
    const i = args.indexOf(`--${name}`);
    const raw = i >= 0 ? args[i + 1] : quick ? small : full;
    out[name] = typeof full === 'number' ? Number(raw) : raw;
    if (typeof full === 'number' && !Number.isFinite(out[name])) {
      throw new Error(`--${name}: "${raw}" is not a number`);
    }
  }
  return out;
}

export function have(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function requireTools(...tools) {
  const missing = tools.filter((tool) => !have(tool));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')} (Debian: apt-get install ${missing.join(' ')})`);
  }
}

/** Work dirs still to remove; an interrupted benchmark removes them on exit too. */
const dirs = new Set();

export function workDir(name) {
  const path = mkdtempSync(join(tmpdir(), `connlog-bench-${name}-`));
  dirs.add(path);
  return {
    path,
    remove: () => {
      dirs.delete(path);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `sh -c` prefix that raises the open-file limit (to the hard limit if `n` is refused). */
function withFileLimit(command, args, files) {
  if (files === undefined) return [command, args];
  return [
    'sh',
    [
      '-c',
      `ulimit -n ${files} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`,
      'sh',
      command,
      ...args,
    ],
  ];
}

/**
 * Spawn a long-running helper process; `stop()` kills it and waits. `files` raises its
 * open-file limit. Every daemon is also killed when this process exits, so an
 * interrupted benchmark leaves nothing behind.
 */
export function daemon(command, args, opts = {}) {
  const { files, ...spawnOptions } = opts;
  const [cmd, argv] = withFileLimit(command, args, files);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  // Both streams are kept (tail only): the daemons log to stdout, tools to stderr.
  let stderr = '';
  const keep = (chunk) => (stderr = (stderr + chunk).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  live.add(child);
  exited.then(() => live.delete(child));
  return {
    child,
    pid: child.pid,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const path of dirs) rmSync(path, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(130));
}

/**
 * Run a load generator (a script in bench/gen) as its own process; resolves with the
 * JSON object it prints last on stdout. `files` raises its open-file limit.
 */
export function generator(script, args, opts = {}) {
  const [cmd, argv] = withFileLimit(process.execPath, [join(GEN, script), ...args], opts.files);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
    child.once('exit', (code) => {
      live.delete(child);
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0) {
        reject(new Error(`${script} exited ${code}: ${stderr.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${script} printed no result: ${stdout.slice(-500)} ${stderr}`));
      }
    });
  });
}

export async function waitPort(port, timeoutMs = 30_000) {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open`);
    await sleep(100);
  }
}

export async function waitHttp(url, timeoutMs = 60_000, proc = undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (proc && proc.child.exitCode !== null) {
      throw new Error(`process exited before ${url} answered: ${proc.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await sleep(100);
  }
}

/** Poll `predicate` until it returns a truthy value; that value is returned. */
export async function waitUntil(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One iperf3 client run to `127.0.0.1:port`: Gbit/s and bytes received. The iperf3
 * server takes one test at a time and may still be closing the last one (a relay's
 * connections linger a moment), so a "busy" answer is retried (5 attempts, 1 s apart).
 */
export async function iperf(port, { seconds, streams = 1, reverse = false }) {
  const args = [
    '-c',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    String(seconds),
    '-P',
    String(streams),
    '-J',
  ];
  if (reverse) args.push('-R');
  for (let attempt = 1; ; attempt += 1) {
    const { stdout } = await promisify(execFile)('iperf3', args).catch((err) => ({
      stdout: err.stdout ?? '{}',
    }));
    const report = JSON.parse(stdout || '{}');
    const received = report.end?.sum_received;
    if (received?.bits_per_second !== undefined) {
      return { gbps: received.bits_per_second / 1e9, bytes: received.bytes };
    }
    if (attempt >= 5) throw new Error(`iperf3 to port ${port}: ${report.error ?? stdout}`);
    await sleep(1000);
  }
}

export function haproxy(dir, listenPort, targetPort, maxconn = 4096) {
  const cfg = join(dir, `haproxy-${listenPort}.cfg`);
  writeFileSync(
    cfg,
    [
      'global',
      `  maxconn ${maxconn}`,
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      `listen bench`,
      `  bind 127.0.0.1:${listenPort}`,
      `  server target 127.0.0.1:${targetPort}`,
      '',
    ].join('\n'),
  );
  // HAProxy sizes its fd needs from maxconn; give it room.
  return daemon('haproxy', ['-f', cfg, '-db'], { files: maxconn * 2 + 100 });
}

/** socat as a forking TCP relay (one process per connection). */
export function socat(listenPort, targetPort) {
  return daemon('socat', [
    `TCP-LISTEN:${listenPort},bind=127.0.0.1,reuseaddr,fork,backlog=1024`,
    `TCP:127.0.0.1:${targetPort},nodelay`,
  ]);
}

/**
 * bench/gen/bare_proxy.mjs: a minimal Node pipe proxy (records nothing), the runtime's
 * floor. `workers` > 1 makes it a node:cluster primary with that many worker processes
 * on the one port (`pid` is the primary's; meter the tree); it resolves once every
 * worker listens.
 */
export async function bareProxy(targetPort, files, workers = 1) {
  const port = await freePort();
  const proc = daemon(
    process.execPath,
    [
      join(GEN, 'bare_proxy.mjs'),
      String(port),
      String(targetPort),
      ...(workers > 1 ? [String(workers)] : []),
    ],
    { files },
  );
  if (workers > 1) {
    await waitUntil(
      () => {
        if (proc.child.exitCode !== null) {
          throw new Error(`bare_proxy.mjs exited before it was ready: ${proc.stderr()}`);
        }
        return /^ready$/m.test(proc.stderr());
      },
      30_000,
      `bare_proxy.mjs's ${workers} workers to listen`,
    );
  }
  await waitPort(port);
  return { ...proc, port, workers };
}

/**
 * bench/gen/bare_udp_proxy.mjs: a minimal Node UDP relay (records nothing), the runtime's
 * floor for UDP.
 */
export async function bareUdpProxy(targetPort) {
  const port = await freePort();
  const proc = daemon(process.execPath, [
    join(GEN, 'bare_udp_proxy.mjs'),
    String(port),
    String(targetPort),
  ]);
  await waitUdpPort(port);
  return { ...proc, port };
}

/** Wait until a UDP socket is bound to 127.0.0.1:`port` (UDP has no connect to try). */
export async function waitUdpPort(port, timeoutMs = 30_000) {
  // /proc/net/udp lines read `  sl: local rem ...`, addresses in hex (`0100007F:PORT`).
  const local = `: 0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  await waitUntil(
    () => readFileSync('/proc/net/udp', 'utf8').includes(local),
    timeoutMs,
    `UDP port ${port} to be bound`,
  );
}

/** A Node echo server (bench/gen/echo_server.mjs) in its own process. */
export async function echoServer(files) {
  const port = await freePort();
  const proc = daemon(process.execPath, [join(GEN, 'echo_server.mjs'), String(port)], { files });
  await waitPort(port);
  return { ...proc, port };
}

export function natsServer(dir, port) {
  const cfg = join(dir, 'nats.conf');
  writeFileSync(
    cfg,
    `listen: "127.0.0.1:${port}"\nmax_payload: 1MB\njetstream { store_dir: "${join(dir, 'nats')}" }\n`,
  );
  return daemon('nats-server', ['-c', cfg]);
}

/** nats-server on a free port with JetStream; `url` to connect. */
export async function startNats(dir) {
  const port = await freePort();
  const proc = natsServer(dir, port);
  await waitPort(port);
  return { ...proc, url: `nats://127.0.0.1:${port}` };
}

/** `extra` over `base`, objects merged key by key (config overrides). */
export function deepMerge(base, extra) {
  const out = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const prev = out[key];
    out[key] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      prev &&
      typeof prev === 'object'
        ? deepMerge(prev, value)
        : value;
  }
  return out;
}

/**
 * Node options for every agent a benchmark starts, from `BENCH_AGENT_NODE_ARGS`
 * (space-separated), e.g. to A/B a V8 heap flag: `BENCH_AGENT_NODE_ARGS=--initial-old-space-size=64`.
 */
const AGENT_NODE_ARGS = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * Start a connlog agent proxying `resources` and publishing to `natsUrl`. It writes its
 * config (agent.yaml) and keeps its spool (and so its agent id) in `dir`, created if
 * missing: a second agent needs a dir of its own. `extra` is merged over the config key by key, so it adds or
 * overrides top-level keys too (`{ workers: 2 }`, `{ publish: { maxInflight: 4 } }`).
 * `opts`: `files` (open-file limit), `nodeArgs`.
 */
export async function connlogAgent(dir, natsUrl, resources, extra = {}, opts = {}) {
  mkdirSync(dir, { recursive: true });
  const httpPort = await freePort();
  const cfg = join(dir, 'agent.yaml');
  const config = deepMerge(
    {
      org: 'bench',
      site: 'local',
      nats: { servers: [natsUrl] },
      spool: { dir: join(dir, 'spool') },
      http: { listen: `127.0.0.1:${httpPort}` },
      log: { level: 'warn' },
      resources,
    },
    extra,
  );
  writeFileSync(cfg, JSON.stringify(config, null, 2));
  const agent = daemon(
    process.execPath,
    // BENCH_AGENT_NODE_ARGS and `opts.nodeArgs` come after the bin's own flags, so they
    // override them.
    [
      ...AGENT_NODE_FLAGS,
      ...AGENT_NODE_ARGS,
      ...(opts.nodeArgs ?? []),
      AGENT_BIN,
      'run',
      '--config',
      cfg,
    ],
    {
      files: opts.files,
    },
  );
  await waitHttp(`http://127.0.0.1:${httpPort}/healthz`, 60_000, agent);
  return { ...agent, metricsUrl: `http://127.0.0.1:${httpPort}/metrics` };
}

/** Start a connlog collector on the embedded engine in `dataDir`. */
export async function connlogCollector(dataDir, natsUrl, extra = {}, opts = {}) {
  const httpPort = await freePort();
  mkdirSync(dataDir, { recursive: true });
  const cfg = join(dataDir, '..', `collector-${httpPort}.yaml`);
  const config = deepMerge(
    {
      dataDir,
      nats: { servers: [natsUrl] },
      http: { listen: `127.0.0.1:${httpPort}` },
      log: { level: 'warn' },
    },
    extra,
  );
  writeFileSync(cfg, JSON.stringify(config, null, 2));
  // BENCH_COLLECTOR_DIST: run another build of the collector (A/B of a change).
  const alt = process.env.BENCH_COLLECTOR_DIST;
  const entry = alt
    ? [
        '--input-type=module',
        '-e',
        `import { main } from '${join(alt, 'cli.js')}'; main(process.argv);`,
        'collector',
      ]
    : [COLLECTOR_BIN];
  const proc = daemon(
    process.execPath,
    [...(opts.nodeArgs ?? []), ...entry, 'run', '--config', cfg],
    {},
  );
  const url = `http://127.0.0.1:${httpPort}`;
  await waitHttp(`${url}/healthz`, 120_000, proc);
  return { ...proc, url, metricsUrl: `${url}/metrics` };
}

export async function ensureStream(natsUrl) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  await jsm.streams
    .add({ name: 'CONNLOG_SESSIONS', subjects: ['connlog.v1.sessions.>'] })
    .catch(() => undefined);
  await nc.close();
}

/** Messages in a stream. */
export async function streamMessages(natsUrl, name = 'CONNLOG_SESSIONS') {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(name)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Sum of a Prometheus metric (all label sets) from a /metrics URL. */
export async function metric(url, name) {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM). */
export function procStatus(pid, field) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Clock ticks per second of /proc/<pid>/stat's CPU fields (USER_HZ, 100 on Linux). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of a /proc stat file after the ")" of the command name (field 3 is index 0). */
function statFields(file) {
  const text = readFileSync(file, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds (user + system) a process used so far, all its threads. With `tid`, that
 * one thread only (a Node process's JavaScript thread is `tid === pid`). `children`
 * counts the whole process tree instead: the process, every live descendant (all their
 * threads) and the children each of them has waited for. socat forks one process per
 * connection and reaps it when it closes, node:cluster workers live as long as their
 * primary: either way the relaying is done outside the process itself. With `children` and `mainThreads`,
 * the main thread of each live process in the tree only (the JavaScript threads of a
 * node:cluster primary and its workers; reaped children cannot be split by thread).
 */
export function cpuSeconds(pid, { tid, children = false, mainThreads = false } = {}) {
  if (children) return treeTicks(pid, mainThreads) / CLK_TCK;
  const f = statFields(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`);
  // utime and stime are fields 14-15.
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/**
 * Ticks of `root`'s process tree (see cpuSeconds). Read twice: the first pass over /proc
 * finds the tree (pid → ppid), the second reads its members again, and it is taken only
 * if no member vanished and no member's reaped-children count moved in between; else a
 * child was reaped mid-read (counted twice or not at all) and it is read again.
 */
function treeTicks(root, mainThreads) {
  const read = (pid, main = false) => {
    try {
      const f = statFields(`/proc/${pid}/stat`);
      const own = main ? statFields(`/proc/${pid}/task/${pid}/stat`) : f;
      // ppid is field 4; utime, stime, cutime, cstime fields 14-17.
      return {
        ppid: Number(f[1]),
        own: Number(own[11]) + Number(own[12]),
        reaped: Number(f[13]) + Number(f[14]),
      };
    } catch {
      return undefined; // gone (exited and reaped) since the directory was listed
    }
  };
  for (let attempt = 1; ; attempt += 1) {
    const first = new Map();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = read(entry);
      if (stat) first.set(Number(entry), stat);
    }
    if (!first.has(root)) throw new Error(`no process ${root}`);
    const tree = [root];
    for (let i = 0; i < tree.length; i += 1) {
      for (const [pid, stat] of first) if (stat.ppid === tree[i]) tree.push(pid);
    }
    let ticks = 0;
    let stable = true;
    // Deepest first: a child reaped between its read and its parent's shows as a moved count.
    for (const pid of tree.reverse()) {
      const stat = read(pid, mainThreads);
      if (!stat || stat.reaped !== first.get(pid).reaped) stable = false;
      ticks += stat ? stat.own + (mainThreads ? 0 : stat.reaped) : 0;
    }
    if (stable || attempt >= 10) return ticks;
  }
}

/**
 * CPU seconds of this process's exited children: load generators and iperf3 clients run
 * as children and are reaped before their promise resolves, so the difference across one
 * run is that run's CPU (the benchmarks run one generator at a time).
 */
export function reapedChildrenCpuSeconds() {
  const f = statFields('/proc/self/stat');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/**
 * The cpuMeter entries of each benchmark path's proxy, keyed by path name, from the
 * proxies' pids (those not given are left out): socat's relays are forked children, and
 * a Node proxy's main thread is metered on its own as `proxyJs`. `bareWorkers` and
 * `agentWorkers` are `{ pid, workers }` of a bare proxy / agent running `workers`
 * node:cluster worker processes (paths `node-bare-proxy-<n>p`, `connlog-agent-<n>w`):
 * the whole process tree is metered, and `proxyJs` is the sum of its main threads.
 */
export function proxyMeters({ haproxy, socat, bare, bareUdp, agent, bareWorkers, agentWorkers }) {
  const node = (pid) => ({ proxy: pid, proxyJs: { pid, tid: pid } });
  const tree = (pid) => ({
    proxy: { pid, children: true },
    proxyJs: { pid, children: true, mainThreads: true },
  });
  return {
    direct: {},
    ...(haproxy !== undefined && { haproxy: { proxy: haproxy } }),
    ...(socat !== undefined && { socat: { proxy: { pid: socat, children: true } } }),
    ...(bare !== undefined && { 'node-bare-proxy': node(bare) }),
    ...(bareUdp !== undefined && { 'node-bare-udp-proxy': node(bareUdp) }),
    ...(agent !== undefined && { 'connlog-agent': node(agent) }),
    ...(bareWorkers !== undefined && {
      [multiProcessPath('node-bare-proxy', bareWorkers.workers)]: tree(bareWorkers.pid),
    }),
    ...(agentWorkers !== undefined && {
      [multiProcessPath('connlog-agent', agentWorkers.workers)]: tree(agentWorkers.pid),
    }),
  };
}

/** Path name of a Node proxy run as `workers` processes: node-bare-proxy-2p, connlog-agent-2w. */
export function multiProcessPath(base, workers) {
  return base === 'connlog-agent' ? `${base}-${workers}w` : `${base}-${workers}p`;
}

/**
 * Start counting the CPU of named processes: `pids` maps a name to a pid, or to
 * `{ pid, tid, children }` (see cpuSeconds); `generator` is always added (this
 * process's reaped children). The returned function gives each one's CPU seconds since.
 */
export function cpuMeter(pids) {
  const read = () => {
    const out = { generator: reapedChildrenCpuSeconds() };
    for (const [name, spec] of Object.entries(pids)) {
      const { pid, ...opts } = typeof spec === 'number' ? { pid: spec } : spec;
      out[name] = cpuSeconds(pid, opts);
    }
    return out;
  };
  const start = read();
  return () => {
    const end = read();
    return Object.fromEntries(Object.entries(end).map(([name, s]) => [name, s - start[name]]));
  };
}

/** The node process a daemon runs (the child itself, or the one `sh` exec'd into). */
export const pidOf = (proc) => proc.child.pid;

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spread(values) {
  return Math.max(...values) - Math.min(...values);
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function fmt(n, digits = 2) {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

/** `median (min–max)` of a list of values. */
export function summary(values, digits = 2) {
  return `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;
}

/** Alternate the order of `paths` each round so drift on a shared machine hits all alike. */
export function alternate(paths, round) {
  return round % 2 === 0 ? paths : [...paths].reverse();
}

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/**
 * Record a benchmark's results for the report: `rows` are table rows
 * `{ target, reference, measured, goal, met, notes }`; `details` is markdown printed
 * under the table. Written to `$BENCH_RESULTS_DIR/<name>.json` when set.
 */
export function record(name, { command, rows, details = '' }) {
  const result = {
    name,
    command,
    date: new Date().toISOString(),
    loadAverage: loadAverage(),
    rows,
    details,
  };
  const dir = process.env.BENCH_RESULTS_DIR;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
  console.log(`\n## ${name}\n`);
  for (const row of rows) {
    console.log(`- ${row.target}: ${row.measured} (goal ${row.goal ?? '—'}; ${row.met ?? ''})`);
  }
  if (details) console.log(`\n${details}`);
}

/** `met` column text for a ratio or figure against its goal. */
export function verdict(ok) {
  return ok === undefined ? 'report' : ok ? 'met' : 'missed';
}

/**
 * The TCP benchmarks' common setup: an echo server process, nats-server with the
 * sessions stream, and a connlog agent proxying one `echo` resource to it. Every process
 * is pushed onto `procs` (the caller stops them in `finally`).
 */
export async function echoBehindAgent(dir, procs, { files, nodeArgs } = {}) {
  const echo = await echoServer(files);
  procs.push(echo);
  const nats = await startNats(dir);
  procs.push(nats);
  await ensureStream(nats.url);
  const agentPort = await freePort();
  const resource = {
    id: 'echo',
    protocol: 'tcp',
    listen: `127.0.0.1:${agentPort}`,
    target: `127.0.0.1:${echo.port}`,
  };
  const opts = {};
  if (files !== undefined) opts.files = files;
  if (nodeArgs !== undefined) opts.nodeArgs = nodeArgs;
  const agent = await connlogAgent(dir, nats.url, [resource], {}, opts);
  procs.push(agent);
  return { echo, nats, agent, agentPort };
}
