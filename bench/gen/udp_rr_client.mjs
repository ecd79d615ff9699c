// UDP request/response load: `flows` client sockets (each its own source port, so its
// own flow through a proxy), each keeping `window` requests of `size` bytes in flight
// and sending the next one when a reply arrives. A flow that waits longer than
// `timeout` ms for a reply counts its requests in flight as lost and starts again.
// Counts replies during `seconds` after `warmup` seconds. Prints one JSON line:
// { flows, size, window, seconds, sent, replies, lost, exchangesPerSec, allReplies }
// (allReplies: warm-up included, to divide the processes' CPU by).
//   node udp_rr_client.mjs --port P [--flows 16] [--size 64] [--window 4]
//                          [--seconds 5] [--warmup 1] [--timeout 200]
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    flows: { type: 'string', default: '16' },
    size: { type: 'string', default: '64' },
    window: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '200' },
  },
});
const port = Number(values.port);
const flows = Number(values.flows);
const size = Number(values.size);
const window = Number(values.window);
const timeoutMs = Number(values.timeout);
const payload = Buffer.alloc(size, 0x75);

let counting = false;
let sent = 0;
let replies = 0;
let allReplies = 0;
let lost = 0;
const sockets = [];

for (let i = 0; i < flows; i += 1) {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 1024 * 1024 });
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const flow = { socket, inFlight: 0, lastReplyAt: Date.now() };
  const send = () => {
    flow.inFlight += 1;
    if (counting) sent += 1;
    socket.send(payload);
  };
  socket.on('message', () => {
    flow.lastReplyAt = Date.now();
    if (flow.inFlight > 0) flow.inFlight -= 1;
    if (counting) replies += 1;
    allReplies += 1;
    send();
  });
  socket.on('error', () => undefined);
  flow.refill = () => {
    while (flow.inFlight < window) send();
  };
  sockets.push(flow);
}

// A lost datagram would stall its flow: refill after `timeout` without a reply.
const watchdog = setInterval(
  () => {
    const now = Date.now();
    for (const flow of sockets) {
      if (now - flow.lastReplyAt < timeoutMs) continue;
      if (counting) lost += flow.inFlight;
      flow.inFlight = 0;
      flow.lastReplyAt = now;
      flow.refill();
    }
  },
  Math.max(10, timeoutMs / 4),
);

for (const flow of sockets) flow.refill();
await new Promise((resolve) => setTimeout(resolve, Number(values.warmup) * 1000));
counting = true;
const started = process.hrtime.bigint();
await new Promise((resolve) => setTimeout(resolve, Number(values.seconds) * 1000));
counting = false;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
clearInterval(watchdog);
for (const flow of sockets) flow.socket.close();
console.log(
  JSON.stringify({
    flows,
    size,
    window,
    seconds,
    sent,
    replies,
    lost,
    exchangesPerSec: replies / seconds,
    allReplies,
  }),
);
