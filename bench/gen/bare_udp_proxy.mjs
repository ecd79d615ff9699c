// The smallest useful Node UDP relay: one listening socket, and per client address+port
// one socket connected to the target; replies go back from the listening socket, nothing
// recorded. It is the runtime's own floor for UDP: connlog-agent against it shows what
// recording costs, socat (C, one process per flow) against it what the runtime costs.
// Nothing is done per datagram beyond what dgram does: no timers, no clock reads, no
// key strings, no send callbacks.
//   node bare_udp_proxy.mjs <listen port> <target port>
import { createSocket } from 'node:dgram';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
// A flow that carried nothing for a whole sweep period is closed (UDP has no end).
const SWEEP_MS = 10_000;
// Datagrams held per flow while its socket connects, as the agent bounds its own queue.
const MAX_PENDING = 64;

// address → port → flow: two lookups, no key string built per datagram.
const flows = new Map();

// As the agent's listener: a burst of new flows (each needs a socket set up on the event
// loop) would otherwise overflow the kernel's default buffer (capped by rmem_max).
const listener = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
listener.on('error', () => undefined);
listener.on('message', (msg, rinfo) => {
  const flow = flows.get(rinfo.address)?.get(rinfo.port) ?? open(rinfo.address, rinfo.port);
  flow.active = true;
  // Sending without an address is only allowed once connected; until then, hold a few
  // (the connect of a loopback socket takes one event loop turn) and drop the rest.
  if (flow.pending === null) flow.upstream.send(msg);
  else if (flow.pending.length < MAX_PENDING) flow.pending.push(msg);
});
listener.bind(listenPort, '127.0.0.1');

function open(address, port) {
  const upstream = createSocket('udp4');
  const flow = { upstream, active: true, pending: [] };
  (flows.get(address) ?? flows.set(address, new Map()).get(address)).set(port, flow);
  upstream.on('message', (msg) => {
    flow.active = true;
    listener.send(msg, port, address);
  });
  // ICMP unreachable from the target arrives here; without a listener it would crash.
  upstream.on('error', () => close(address, port, flow));
  upstream.once('connect', () => {
    for (const msg of flow.pending) upstream.send(msg);
    flow.pending = null;
  });
  upstream.connect(targetPort, '127.0.0.1');
  return flow;
}

function close(address, port, flow) {
  const byPort = flows.get(address);
  if (byPort?.get(port) !== flow) return;
  byPort.delete(port);
  if (byPort.size === 0) flows.delete(address);
  flow.upstream.close();
}

// Mark and sweep: a datagram sets `active`, each sweep clears it or closes the flow.
setInterval(() => {
  for (const [address, byPort] of flows) {
    for (const [port, flow] of byPort) {
      if (flow.active) flow.active = false;
      else close(address, port, flow);
    }
  }
}, SWEEP_MS).unref();

process.on('SIGTERM', () => process.exit(0));
