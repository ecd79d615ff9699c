// The embedded engine's own ingest rate for the pipeline's rows: decode the same
// batches the simulated agents send, then INSERT them through the collector's store
// (in-process chDB, fresh data dir) in `batchRows`-row statements for `seconds`.
// Only the inserts are timed. Prints one JSON line: { rows, seconds }.
//   node store_ceiling.mjs --dir D [--seconds 10] [--batch-rows 100000] [--events 1000]
import { parseArgs } from 'node:util';
import { decoder, openStore } from '../collector_kit.mjs';
import { batchFactory } from './batches.mjs';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    'batch-rows': { type: 'string', default: '100000' },
    events: { type: 'string', default: '1000' },
  },
});
const seconds = Number(values.seconds);
const batchRows = Number(values['batch-rows']);
const events = Number(values.events);
const decode = await decoder();
const store = await openStore(values.dir);
const factory = batchFactory({ org: 'bench', site: 'site-0', agent: 0, events, at: Date.now() });
let n = 1;
/** One INSERT's worth of rows, decoded as the collector would. */
function nextRows() {
  const rows = [];
  while (rows.length < batchRows) {
    for (const row of decode('connlog.v1.sessions.bench.site-0', factory.next(n))) rows.push(row);
    n += 1;
  }
  return rows;
}
let rows = 0;
let timed = 0;
const deadline = performance.now() + seconds * 1000;
while (performance.now() < deadline) {
  const batch = nextRows();
  const t0 = performance.now();
  await store.insertSessions(batch);
  timed += performance.now() - t0;
  rows += batch.length;
}
await store.close();
console.log(JSON.stringify({ rows, seconds: timed / 1000 }));
