// Opens `count` TCP connections (at most `parallel` connecting at once), sends 64 B on
// each and waits for the echo, so every session is established end to end, then holds
// them idle. Prints {"held": n, "errors": e} once all are up, then waits for SIGTERM.
//   node idle_client.mjs --port P [--count 10000] [--parallel 200]
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    count: { type: 'string', default: '10000' },
    parallel: { type: 'string', default: '200' },
  },
});
const port = Number(values.port);
const count = Number(values.count);
const payload = Buffer.alloc(64, 0x63);
const sockets = [];
let errors = 0;
let next = 0;

function open() {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let got = 0;
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (got >= 64) {
        sockets.push(socket);
        resolve();
      }
    });
    socket.on('error', () => {
      errors += 1;
      resolve();
    });
  });
}

async function worker() {
  while (next < count) {
    next += 1;
    await open();
  }
}
await Promise.all(Array.from({ length: Number(values.parallel) }, worker));
console.log(JSON.stringify({ held: sockets.length, errors }));
process.on('SIGTERM', () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
setInterval(() => undefined, 60_000);
