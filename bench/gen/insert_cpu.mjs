// The embedded engine's CPU per inserted row at a given INSERT size, background merges
// included: decode the pipeline's batches, insert `total` rows through the collector's
// store in `batchRows`-row INSERTs (in-process chDB, fresh data dir), then wait until no
// merge has run for 1.5 s. CPU is this process's (all threads) from /proc, so it also
// holds the JS side of each INSERT (RowBinary encoding), the same for every size.
// Prints one JSON line.
//   node bench/gen/insert_cpu.mjs [--batch-rows 100000] [--total 3000000]
// e.g. for n in 20000 50000 100000; do node bench/gen/insert_cpu.mjs --batch-rows $n; done
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decoder, openStore } from '../collector_kit.mjs';
import { cpuSeconds } from '../lib.mjs';
import { batchFactory } from './batches.mjs';

const { values } = parseArgs({
  options: {
    'batch-rows': { type: 'string', default: '100000' },
    total: { type: 'string', default: '3000000' },
  },
});
const batchRows = Number(values['batch-rows']);
const total = Number(values.total);
const dir = mkdtempSync(join(tmpdir(), 'connlog-insert-cpu-'));
try {
  const store = await openStore(dir);
  const decode = await decoder();
  const factory = batchFactory({
    org: 'bench',
    site: 'site-0',
    agent: 0,
    events: 1000,
    at: Date.now(),
  });
  // Each batch is decoded just before its INSERT (holding every batch would make GC of a
  // huge heap part of the figure); the JS-thread CPU of decoding is left out.
  const js = () => cpuSeconds(process.pid, { tid: process.pid });
  let made = 0;
  let decodeCpu = 0;
  let n = 1;
  const c0 = cpuSeconds(process.pid);
  const j0 = js();
  while (made < total) {
    const d0 = js();
    const rows = [];
    while (rows.length < batchRows) {
      for (const row of decode('connlog.v1.sessions.bench.site-0', factory.next(n))) rows.push(row);
      n += 1;
    }
    decodeCpu += js() - d0;
    await store.insertSessions(rows);
    made += rows.length;
  }
  const c1 = cpuSeconds(process.pid) - decodeCpu;
  const j1 = js() - decodeCpu;
  for (let quiet = 0; quiet < 3;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [{ c }] = await store.query('SELECT count() AS c FROM system.merges');
    quiet = Number(c) === 0 ? quiet + 1 : 0;
  }
  const c2 = cpuSeconds(process.pid) - decodeCpu;
  await store.close();
  console.log(
    JSON.stringify({
      batchRows,
      rows: made,
      cpuSecondsPerMillionRows: {
        inserts: ((c1 - c0) / made) * 1e6,
        insertsJsThread: ((j1 - j0) / made) * 1e6,
        withMerges: ((c2 - c0) / made) * 1e6,
      },
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
