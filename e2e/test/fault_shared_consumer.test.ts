import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@connlog/testkit';
import {
  faultCollector,
  SESSIONS,
  expectAllStored,
  metric,
  settle,
  useFaultStack,
} from './fault_kit.js';
import type { CollectorHandle } from './stack.js';

/**
 * Each collector here owns its own embedded store, so "stored exactly once" is checked
 * on the union of both stores: every session once overall, its final version in one
 * store only. That relies on JetStream handing each message to one collector of the
 * shared durable consumer; with one shared ClickHouse the dedup token and the
 * ReplacingMergeTree version would also absorb a message delivered twice.
 */
describe('fault: two collectors share the consumer, one is stopped mid-run', () => {
  const fault = useFaultStack('shared-consumer');
  let second: CollectorHandle;

  beforeAll(async () => {
    const { stack } = fault();
    second = await stack.startCollector(faultCollector(stack), { name: 'collector-b' });
  });

  it('shares the load, and loses nothing when one collector stops', async () => {
    const f = fault();
    const startedAt = Date.now();
    const traffic = f.traffic(15);
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.4));
    const inserted = (url: string) => metric(url, 'connlog_collector_rows_inserted_total');
    await waitFor(
      async () => (await inserted(f.collector.url)) > 0 && (await inserted(second.url)) > 0,
      30_000,
      'both collectors inserting',
      100,
    );
    expect(await second.stop('SIGTERM')).toBe(0);

    await traffic.untilCompleted(SESSIONS);
    const sessions = await traffic.stop();
    // The stopped collector's store can only be read through a collector owning it.
    second = await f.stack.startCollector(faultCollector(f.stack), { name: 'collector-b' });
    const figures = await settle(
      'two collectors, one stopped',
      [f.collector, second],
      sessions,
      startedAt,
    );
    expectAllStored(figures);
  });
});
