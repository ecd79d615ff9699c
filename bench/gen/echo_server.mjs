// TCP echo server, the target of the churn, latency and memory benchmarks. Runs in its
// own process so its CPU is not the benchmark's.  Usage: node echo_server.mjs <port>
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
const server = createServer({ noDelay: true, allowHalfOpen: false }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.maxConnections = 1_000_000;
server.listen({ port, host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
