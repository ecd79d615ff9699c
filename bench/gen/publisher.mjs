// Simulated agents publishing pre-encoded session event batches to JetStream, with a
// bounded window of unacked publishes, at `rate` events/s (0 = as fast as acks allow)
// for `seconds`. With --markers, the first batch of every `markerEvery` ms is encoded
// on the spot with a marker event (resource_id "marker", bytes_tx = send time, on an
// END so that merges keep it), for the latency benchmark. Prints one JSON line: { events, batches, seconds, errors, markers, cpuSeconds, ... }.
//   node publisher.mjs --nats URL [--agents 4] [--events 1000] [--rate 0] [--seconds 10]
//       [--window 64] [--org bench] [--markers] [--first-batch 1] [--max-events 0 (no cap)]
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { batchMsgId, encodeBatch, sessionsSubject } from '@connlog/proto';
import { parseArgs } from 'node:util';
import { batchEvents, batchFactory } from './batches.mjs';

const { values } = parseArgs({
  options: {
    nats: { type: 'string' },
    agents: { type: 'string', default: '4' },
    events: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '64' },
    org: { type: 'string', default: 'bench' },
    markers: { type: 'boolean', default: false },
    'marker-every': { type: 'string', default: '100' },
    'first-batch': { type: 'string', default: '1' },
    'max-events': { type: 'string', default: '0' },
  },
});
const agents = Number(values.agents);
const events = Number(values.events);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const window = Number(values.window);
const org = values.org;
const at = Date.now();
const factories = Array.from({ length: agents }, (_, agent) =>
  batchFactory({ org, site: `site-${agent}`, agent, events, at }),
);

const nc = await connect({ servers: values.nats });
const js = jetstream(nc);
let inFlight = 0;
let errors = 0;
let acked = 0;
let wake;
const started = performance.now();
// CPU from the first publish on: the import and connect before it are not per event.
const cpuAtStart = process.cpuUsage();
const deadline = started + seconds * 1000;
let batches = 0;
let n = Number(values['first-batch']);
let nextMarker = started;
let markers = 0;

function publish(agent, data, seq) {
  const { agentId } = factories[agent];
  inFlight += 1;
  js.publish(sessionsSubject(org, `site-${agent}`), data, { msgID: batchMsgId(agentId, seq) })
    .then(
      () => (acked += 1),
      () => (errors += 1),
    )
    .finally(() => {
      inFlight -= 1;
      wake?.();
    });
}

const maxBatches =
  Number(values['max-events']) > 0 ? Math.ceil(Number(values['max-events']) / events) : Infinity;
while (performance.now() < deadline && batches < maxBatches) {
  if (inFlight >= window) {
    await new Promise((resolve) => (wake = resolve));
    continue;
  }
  if (rate > 0) {
    const due = started + ((batches * events) / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const agent = batches % agents;
  let data;
  if (values.markers && performance.now() >= nextMarker) {
    nextMarker += Number(values['marker-every']);
    markers += 1;
    const { agentId } = factories[agent];
    const now = Date.now();
    const list = batchEvents({ org, site: `site-${agent}`, agentId, agent, batch: n, events, at });
    // The END of the first session (the highest version, so merges keep it).
    list[1].resourceId = 'marker';
    list[1].bytesTx = now;
    data = encodeBatch({
      agentId,
      batchSeq: n,
      sentAtMs: now,
      orgId: org,
      siteId: `site-${agent}`,
      events: list,
    });
  } else {
    data = factories[agent].next(n);
  }
  publish(agent, data, n);
  n += 1;
  batches += 1;
}
while (inFlight > 0) await new Promise((resolve) => (wake = resolve));
const elapsed = (performance.now() - started) / 1000;
await nc.drain();
const cpu = process.cpuUsage(cpuAtStart);
console.log(
  JSON.stringify({
    events: acked * events,
    batches: acked,
    seconds: elapsed,
    errors,
    markers,
    bytesPerBatch: factories[0].bytes,
    nextBatch: n,
    // This process's CPU (user + system) while publishing, for the pipeline's CPU accounting.
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }),
);
