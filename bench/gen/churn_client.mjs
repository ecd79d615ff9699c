// Session churn load generator: `concurrency` loops, each connects, sends 64 B, waits
// for the 64 B echo, closes, and starts over, for `seconds`. Prints one JSON line:
// { sessions, errors, seconds }.
//   node churn_client.mjs --port P [--seconds 5] [--concurrency 64]
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
  },
});
const port = Number(values.port);
const seconds = Number(values.seconds);
const payload = Buffer.alloc(64, 0x61);
let sessions = 0;
let errors = 0;
const started = performance.now();
const deadline = started + seconds * 1000;

function one() {
  return new Promise((resolve) => {
    let got = 0;
    let failed = false;
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (got >= 64) socket.end();
    });
    socket.on('error', () => {
      failed = true;
    });
    socket.on('close', () => {
      if (failed || got < 64) errors += 1;
      else sessions += 1;
      resolve();
    });
  });
}

async function loop() {
  while (performance.now() < deadline) await one();
}

await Promise.all(Array.from({ length: Number(values.concurrency) }, loop));
const elapsed = (performance.now() - started) / 1000;
console.log(JSON.stringify({ sessions, errors, seconds: elapsed }));
