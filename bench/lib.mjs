// Helpers shared by the benchmark scripts: start reference proxies and connlog
// processes, run load generators as separate processes, summarize rounds.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

export function have(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function workDir(name) {
  const path = mkdtempSync(join(tmpdir(), `connlog-bench-${name}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
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

/** Spawn a long-running helper process; `stop()` kills it and waits. */
export function daemon(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
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
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitHttp(url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function haproxy(dir, listenPort, targetPort) {
  const cfg = join(dir, `haproxy-${listenPort}.cfg`);
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 4096',
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
  return daemon('haproxy', ['-f', cfg, '-db']);
}

export function natsServer(dir, port) {
  const cfg = join(dir, 'nats.conf');
  writeFileSync(
    cfg,
    `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${join(dir, 'nats')}" }\n`,
  );
  return daemon('nats-server', ['-c', cfg]);
}

/** Start a connlog agent proxying `resources` and publishing to `natsUrl`. */
export async function connlogAgent(dir, natsUrl, resources, extra = {}) {
  const httpPort = await freePort();
  const cfg = join(dir, 'agent.yaml');
  const config = {
    org: 'bench',
    site: 'local',
    nats: { servers: [natsUrl] },
    spool: { dir: join(dir, 'spool') },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { level: 'warn' },
    resources,
    ...extra,
  };
  writeFileSync(cfg, JSON.stringify(config, null, 2));
  const agent = daemon(process.execPath, [
    join(repo, 'agent', 'bin', 'connlog-agent.js'),
    'run',
    '--config',
    cfg,
  ]);
  await waitHttp(`http://127.0.0.1:${httpPort}/healthz`);
  return { ...agent, metricsUrl: `http://127.0.0.1:${httpPort}/metrics` };
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

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spread(values) {
  return Math.max(...values) - Math.min(...values);
}

export function fmt(n, digits = 2) {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}
