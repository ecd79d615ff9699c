import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@connlog/testkit';
import {
  faultCollector,
  SESSIONS,
  expectAllStored,
  metric,
  settle,
  startFaultStack,
  type FaultStack,
} from './fault_kit.js';

describe('fault: the collector killed with SIGKILL mid-ingest', () => {
  let f: FaultStack;

  beforeAll(async () => {
    f = await startFaultStack('collector-kill');
  });

  afterAll(async () => {
    await (f as FaultStack | undefined)?.close();
  });

  it('redelivers what the dead collector had not acked; the restarted one stores it once', async () => {
    const startedAt = Date.now();
    const traffic = f.traffic(15);
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.3));
    await waitFor(
      async () => (await metric(f.collector.url, 'connlog_collector_rows_inserted_total')) > 0,
      30_000,
      'rows inserted before the kill',
      100,
    );
    expect(await f.collector.stop('SIGKILL')).toBe('SIGKILL');
    // Sessions go on while no collector runs; JetStream keeps their batches.
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.6));
    f.collector = await f.stack.startCollector(faultCollector(f.stack));

    await traffic.untilCompleted(SESSIONS);
    const sessions = await traffic.stop();
    const figures = await settle('collector SIGKILL', [f.collector], sessions, startedAt);
    expectAllStored(figures);
  });
});
