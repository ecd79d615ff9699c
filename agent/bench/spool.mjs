// Spool throughput: sequential appends of 16 KiB batches under each fsync mode, then a
// restart (open() recovers and CRC-checks everything) and a replay (readPending 64 at a
// time + ack each) of what was written. Prints figures, asserts nothing.
//
//   cd agent && pnpm build && node bench/spool.mjs [--dir /path/on/the/disk]
//       [--seconds 2] [--max-mib 256] [--rounds 3] [--batch-bytes 16384]
//
// --dir picks the filesystem to measure (default: the OS temp dir); each run gets a
// fresh subdirectory, removed afterwards. Modes alternate over the rounds and `sync`
// runs between runs, so one mode's dirty pages do not slow the next; the median run
// per mode is printed with the range.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DiskSpool } from '../dist/spool/disk.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    seconds: { type: 'string', default: '2' },
    'max-mib': { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    'batch-bytes': { type: 'string', default: String(16 * 1024) },
  },
});
const seconds = Number(values.seconds);
const batchBytes = Number(values['batch-bytes']);
const maxAppends = Math.floor((Number(values['max-mib']) * 1024 * 1024) / batchBytes);
const rounds = Number(values.rounds);
const payload = Buffer.alloc(batchBytes, 0x5a);
const MiB = 1024 * 1024;

async function run(fsync) {
  const dir = mkdtempSync(join(values.dir, `connlog-bench-spool-${fsync}-`));
  try {
    const spool = new DiskSpool({ dir, fsync, maxBytes: 2 ** 40 });
    await spool.open();
    let seq = 0;
    const started = process.hrtime.bigint();
    const deadline = started + BigInt(seconds * 1e9);
    while (seq < maxAppends && process.hrtime.bigint() < deadline) {
      await spool.append({ batchSeq: ++seq, payload });
    }
    const appendSec = Number(process.hrtime.bigint() - started) / 1e9;

    await spool.close();
    const { fsyncs } = spool.counters();

    // Restart: recovery reads and checks every record once, then the replay.
    const openStart = process.hrtime.bigint();
    const reopened = new DiskSpool({ dir, fsync, maxBytes: 2 ** 40 });
    await reopened.open();
    const openSec = Number(process.hrtime.bigint() - openStart) / 1e9;
    const replayStart = process.hrtime.bigint();
    let after = 0;
    for (;;) {
      const batches = await reopened.readPending(after, 64);
      if (batches.length === 0) break;
      after = batches[batches.length - 1].batchSeq;
      for (const batch of batches) await reopened.ack(batch.batchSeq);
    }
    const replaySec = Number(process.hrtime.bigint() - replayStart) / 1e9;
    await reopened.close();
    return { appends: seq, appendSec, openSec, replaySec, fsyncs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    execFileSync('sync');
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => `${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))}`;

console.log(
  `spool bench: ${batchBytes} B batches, sequential appends for ${seconds} s or ${values['max-mib']} MiB per run, ` +
    `${rounds} rounds, dir ${values.dir}, node ${process.version}`,
);
const modes = ['always', 'interval', 'never'];
const runs = Object.fromEntries(modes.map((mode) => [mode, []]));
for (let round = 0; round < rounds; round++) {
  for (const mode of modes) runs[mode].push(await run(mode));
}
const rows = modes.map((fsync) => {
  const rs = runs[fsync];
  const appendRates = rs.map((r) => r.appends / r.appendSec);
  const replayRates = rs.map((r) => r.appends / r.replaySec);
  return {
    fsync,
    'appends/s': Math.round(median(appendRates)),
    'appends/s range': range(appendRates),
    'MB/s': Number(((median(appendRates) * batchBytes) / MiB).toFixed(1)),
    'fsyncs/run': Math.round(median(rs.map((r) => r.fsyncs))),
    'reopen MB/s': Number(
      median(rs.map((r) => (r.appends * batchBytes) / MiB / r.openSec)).toFixed(1),
    ),
    'replay batches/s': Math.round(median(replayRates)),
    'replay MB/s': Number(((median(replayRates) * batchBytes) / MiB).toFixed(1)),
  };
});
console.table(rows);
