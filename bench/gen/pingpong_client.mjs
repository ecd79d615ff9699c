// Request/response latency on one kept-alive connection: send 64 B, wait for the 64 B
// echo, repeat `requests` times after `warmup` untimed ones. Prints one JSON line:
// { requests, p50Us, p99Us, meanUs }.
//   node pingpong_client.mjs --port P [--requests 5000] [--warmup 500]
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    requests: { type: 'string', default: '5000' },
    warmup: { type: 'string', default: '500' },
  },
});
const requests = Number(values.requests);
const warmup = Number(values.warmup);
const payload = Buffer.alloc(64, 0x62);
const socket = connect({ port: Number(values.port), host: '127.0.0.1', noDelay: true });
await new Promise((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('error', reject);
});

const samples = new Float64Array(requests);
let got = 0;
let index = -warmup;
let sentAt = 0n;
let done;
const finished = new Promise((resolve) => (done = resolve));
function send() {
  sentAt = process.hrtime.bigint();
  socket.write(payload);
}
socket.on('data', (chunk) => {
  got += chunk.length;
  if (got < 64) return;
  got -= 64;
  const took = Number(process.hrtime.bigint() - sentAt) / 1000;
  if (index >= 0) samples[index] = took;
  index += 1;
  if (index < requests) send();
  else done();
});
send();
await finished;
socket.destroy();
const sorted = [...samples].sort((a, b) => a - b);
const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
console.log(JSON.stringify({ requests, p50Us: at(0.5), p99Us: at(0.99), meanUs: mean }));
