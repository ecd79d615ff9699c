// Pipeline: simulated agents (bench/gen/publisher.mjs, their own process) publish
// pre-encoded SessionEventBatches to JetStream → a real connlog-collector process on
// the embedded engine → rows. Three figures:
//  1. sustained events/s end to end with zero loss: the publisher runs as fast as
//     JetStream acks for `seconds`; the clock stops when the collector has inserted
//     every event (its rows_inserted metric), and the table must then hold every session;
//  2. latency at `latency-rate` events/s: marker events carry their send time; this
//     process polls the collector's /sql every `poll` ms for them (first seen − sent);
//  3. the ceiling: the same rows inserted straight into the embedded engine through
//     the collector's store, in a process of its own (bench/gen/store_ceiling.mjs),
//     alternated with (1) over the rounds.
// During (1) the CPU of every process is read from /proc (collector: all threads and its
// JavaScript thread alone; nats-server; the publishers), per million events: what the
// pipeline costs, and the rate the machine's cores could sustain at that cost.
//   node bench/pipeline.mjs [--rounds 3] [--seconds 10] [--latency-seconds 20]
//       [--latency-rate 20000] [--agents 4] [--quick]
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createKey, sqlClient } from './collector_kit.mjs';
import {
  connlogCollector,
  cpuSeconds,
  fmt,
  generator,
  median,
  metric,
  options,
  percentile,
  record,
  requireTools,
  sleep,
  startNats,
  summary,
  verdict,
  waitUntil,
  workDir,
} from './lib.mjs';

const opt = options({
  rounds: [3, 1],
  // The sustained run publishes `total` events as fast as JetStream acks (at most
  // `seconds` s), then waits until the collector has inserted them all.
  total: [2_000_000, 20_000],
  seconds: [60, 5],
  'ceiling-seconds': [10, 1],
  'latency-seconds': [20, 2],
  'latency-rate': [20_000, 5000],
  agents: [4, 2],
  events: [1000, 1000],
  poll: [50, 50],
  // Publish rate of the sustained run; 0 = as fast as JetStream acks (quick mode caps it
  // so the smoke run stays short).
  rate: [0, 0],
});
requireTools('nats-server');

/** CPU seconds a process used so far: all its threads, and its main (JavaScript) thread. */
const cpuOf = (pid) => ({ all: cpuSeconds(pid), main: cpuSeconds(pid, { tid: pid }) });

// The collector's default `ingest.maxBatchRows`: the engine alone inserts batches of the
// size the pipeline's collector does, so the ratio compares like with like.
const CEILING_BATCH_ROWS = 100_000;

const dir = workDir('pipeline');
const procs = [];
let nextBatch = 1;
try {
  const nats = await startNats(dir.path);
  procs.push(nats);
  const collector = await connlogCollector(join(dir.path, 'collector'), nats.url, {
    nats: { stream: { maxBytes: '8GiB' } },
  });
  procs.push(collector);
  const key = await createKey(nats.url);
  const sql = sqlClient(collector.url, key);
  const inserted = () => metric(collector.metricsUrl, 'connlog_collector_rows_inserted_total');

  const publish = async (args) => {
    const r = await generator('publisher.mjs', [
      '--nats',
      nats.url,
      '--agents',
      String(opt.agents),
      '--events',
      String(opt.events),
      '--first-batch',
      String(nextBatch),
      ...args,
    ]);
    nextBatch = r.nextBatch;
    if (r.errors > 0) throw new Error(`${r.errors} publishes failed`);
    return r;
  };

  // 1 and 3, alternated.
  const sustained = [];
  const publishRates = [];
  const ceiling = [];
  // CPU seconds per million events of each sustained round.
  const cpu = { collector: [], collectorJs: [], nats: [], publishers: [] };
  let expected = 0;
  for (let round = 0; round < opt.rounds; round += 1) {
    const steps = [
      async () => {
        const before = await inserted();
        const c0 = cpuOf(collector.pid);
        const n0 = cpuOf(nats.pid).all;
        const t0 = performance.now();
        const r = await publish([
          '--seconds',
          String(opt.seconds),
          '--rate',
          String(opt.rate),
          '--max-events',
          String(opt.total),
        ]);
        expected += r.events;
        publishRates.push(r.events / r.seconds);
        await waitUntil(
          async () => (await inserted()) >= before + r.events,
          600_000,
          'the collector to insert every event',
        );
        sustained.push(r.events / ((performance.now() - t0) / 1000));
        const c1 = cpuOf(collector.pid);
        const perMillion = (seconds) => (seconds / r.events) * 1e6;
        cpu.collector.push(perMillion(c1.all - c0.all));
        cpu.collectorJs.push(perMillion(c1.main - c0.main));
        cpu.nats.push(perMillion(cpuOf(nats.pid).all - n0));
        cpu.publishers.push(perMillion(r.cpuSeconds));
      },
      async () => {
        const r = await generator('store_ceiling.mjs', [
          '--dir',
          join(dir.path, `ceiling-${round}`),
          '--seconds',
          String(opt['ceiling-seconds']),
          '--events',
          String(opt.events),
          '--batch-rows',
          String(CEILING_BATCH_ROWS),
        ]);
        ceiling.push(r.rows / r.seconds);
      },
    ];
    for (const step of round % 2 === 0 ? steps : steps.reverse()) await step();
  }

  // Zero loss: every event inserted once, every session present and completed.
  const [counts] = await sql(
    `SELECT uniqExact(session_id) AS sessions FROM connlog.sessions WHERE resource_id != 'marker'`,
  );
  const rowsInserted = await inserted();
  const [ended] = await sql(
    `SELECT count() AS n FROM connlog.network_logs WHERE status = 'completed'`,
  );
  const lossFree =
    rowsInserted === expected &&
    Number(counts.sessions) === expected / 2 &&
    Number(ended.n) === expected / 2;

  // 2: latency at a fixed rate.
  const seen = new Map();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const rows = await sql(
        `SELECT toString(session_id) AS id, bytes_tx AS sent FROM connlog.sessions WHERE resource_id = 'marker'`,
      );
      const now = Date.now();
      for (const row of rows) if (!seen.has(row.id)) seen.set(row.id, now - Number(row.sent));
      await sleep(opt.poll);
    }
  })();
  const lat = await publish([
    '--seconds',
    String(opt['latency-seconds']),
    '--rate',
    String(opt['latency-rate']),
    '--markers',
  ]);
  await waitUntil(async () => seen.size >= lat.markers, 60_000, 'every marker').catch(
    () => undefined,
  );
  polling = false;
  await poller;
  const latencies = [...seen.values()];
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const achieved = lat.events / lat.seconds;

  const sustainedMedian = median(sustained);
  const ceilingMedian = median(ceiling);
  // What the machine could sustain at the measured cost per event, assuming it stays
  // constant with rate: every core busy with the pipeline's processes, and the
  // collector's JavaScript thread (one core at most) on its own.
  const cores = availableParallelism();
  const perEvent = {
    collector: median(cpu.collector),
    collectorJs: median(cpu.collectorJs),
    nats: median(cpu.nats),
    publishers: median(cpu.publishers),
  };
  const totalPerMillion = perEvent.collector + perEvent.nats + perEvent.publishers;
  const coresBound = (cores / totalPerMillion) * 1e6;
  const jsBound = (1 / perEvent.collectorJs) * 1e6;
  const coresAtTarget = (200_000 * totalPerMillion) / 1e6;
  const details = [
    `| figure | median (min–max) over ${opt.rounds} rounds |`,
    '| --- | --- |',
    `| sustained end to end, events/s (publish start → last row inserted) | ${summary(sustained, 0)} |`,
    `| JetStream publish rate of the simulated agents, events/s | ${summary(publishRates, 0)} |`,
    `| embedded engine alone (store.insertSessions, ${CEILING_BATCH_ROWS}-row INSERTs), rows/s | ${summary(ceiling, 0)} |`,
    '',
    `CPU per million events in the sustained runs (/proc, median (min–max) over ${opt.rounds} rounds):`,
    '',
    '| process | CPU-s per million events |',
    '| --- | --- |',
    `| connlog-collector, all threads (JavaScript + engine) | ${summary(cpu.collector, 2)} |`,
    `| connlog-collector, JavaScript thread | ${summary(cpu.collectorJs, 2)} |`,
    `| nats-server | ${summary(cpu.nats, 2)} |`,
    `| simulated agents (publishers) | ${summary(cpu.publishers, 2)} |`,
    `| all | ${fmt(totalPerMillion, 2)} |`,
    '',
    `At these costs, ${cores} cores sustain at most ${fmt(coresBound, 0)} events/s with every core busy, and the ` +
      `collector's JavaScript thread at most ${fmt(jsBound, 0)} events/s on a core of its own; ` +
      `200,000 events/s would need ${fmt(coresAtTarget, 2)} cores (assuming the cost per event stays constant with rate).`,
    '',
    `${opt.agents} simulated agents, ${opt.events} events per batch (START/END pairs), ${opt.total} events per round. ` +
      `Loss check: ${expected} events published, ${rowsInserted} rows inserted, ${counts.sessions} distinct sessions, ` +
      `${ended.n} completed in network_logs (expected ${expected / 2}) — ${lossFree ? 'no loss' : 'LOSS OR DUPLICATES'}.`,
    `Latency run: ${fmt(achieved, 0)} events/s for ${fmt(lat.seconds, 1)} s, ${latencies.length} of ${lat.markers} markers seen, ` +
      `polled every ${opt.poll} ms (adds up to ${opt.poll} ms): p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...latencies)} ms.`,
  ].join('\n');
  record('pipeline', {
    command: `node bench/pipeline.mjs --rounds ${opt.rounds} --total ${opt.total} --latency-seconds ${opt['latency-seconds']} --latency-rate ${opt['latency-rate']} --agents ${opt.agents}`,
    rows: [
      {
        target: 'pipeline: sustained session events/s, zero loss',
        reference: '—',
        measured: `${fmt(sustainedMedian, 0)} events/s, ${lossFree ? 'no loss' : 'LOSS'}`,
        goal: '≥ 200,000',
        met: verdict(sustainedMedian >= 200_000 && lossFree),
      },
      {
        target: `pipeline latency at ${opt['latency-rate']} events/s, sent → queryable, p99`,
        reference: '—',
        measured: `p99 ${p99} ms (p50 ${p50} ms)`,
        goal: '≤ 2 s',
        met: verdict(p99 <= 2000 && latencies.length > 0),
      },
      {
        target: 'pipeline ceiling: sustained rate / embedded engine alone',
        reference: `engine alone ${fmt(ceilingMedian, 0)} rows/s`,
        measured: `${fmt(sustainedMedian / ceilingMedian)}`,
        goal: 'report, aim ≥ 0.5',
        met: verdict(sustainedMedian / ceilingMedian >= 0.5),
      },
    ],
    details,
  });
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  dir.remove();
}
