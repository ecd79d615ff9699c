// The smallest useful Node TCP proxy: accept, dial the target, pipe both ways, nothing
// recorded. It is the runtime's own floor: connlog-agent against it shows what
// recording costs, HAProxy against it what the runtime costs.
//   node bare_proxy.mjs <listen port> <target port>
import { connect, createServer } from 'node:net';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
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
