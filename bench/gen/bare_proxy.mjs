// The smallest useful Node TCP proxy: accept, dial the target, pipe both ways, nothing
// recorded. It is the runtime's own floor: connlog-agent against it shows what
// recording costs, HAProxy against it what the runtime costs.
// With `workers` > 1 (default 1: one process, one event loop) this process is a
// node:cluster primary that forks that many workers, each running the same proxy on the
// shared port (the cluster's default scheduling: on Linux the primary accepts and hands
// connections round-robin to the workers). It prints `ready` once every worker listens.
// SIGTERM stops the workers, then the primary; a worker whose primary is gone exits too
// (node:cluster's worker side does that on disconnect), so none is left behind.
//   node bare_proxy.mjs <listen port> <target port> [workers]
import cluster from 'node:cluster';
import { connect, createServer } from 'node:net';

const [listenPort, targetPort, workers = 1] = process.argv.slice(2).map(Number);
if (!Number.isInteger(workers) || workers < 1) {
  throw new Error(`workers: "${process.argv[4]}" is not an integer ≥ 1`);
}

if (workers > 1 && cluster.isPrimary) {
  let stopping = false;
  let listening = 0;
  let alive = workers;
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) console.log('ready');
  });
  const stop = (code) => {
    if (code !== 0) process.exitCode = code;
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  };
  cluster.on('exit', (worker, code, signal) => {
    alive -= 1;
    // A worker lost is a broken proxy: stop the rest and say so.
    if (!stopping) {
      console.error(`bare_proxy: worker ${worker.process.pid} exited (${signal ?? code})`);
      stop(1);
    }
    if (alive === 0) process.exit();
  });
  process.on('SIGTERM', () => stop(0));
} else {
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    const upstream = connect({
      port: targetPort,
      host: '127.0.0.1',
      noDelay: true,
      allowHalfOpen: true,
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.maxConnections = 1_000_000;
  server.listen({ port: listenPort, host: '127.0.0.1', backlog: 4096 });
  process.on('SIGTERM', () => process.exit(0));
}
