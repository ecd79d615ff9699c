import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@connlog/testkit';
import {
  SESSIONS,
  expectAllStored,
  metric,
  settle,
  untilInserting,
  useFaultStack,
} from './fault_kit.js';

describe('fault: the store refuses inserts for a while', () => {
  const fault = useFaultStack('store-failure');

  it('naks with backoff while inserts fail, keeps everything, stores it once inserts work', async () => {
    const f = fault();
    const startedAt = Date.now();
    const traffic = f.traffic(15);
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.3));
    const { url } = f.collector;
    await untilInserting(url, 'rows inserted before the failure');

    // The store layer's fault-injection seam (collector/src/store/faulty.ts).
    const flag = join(f.collector.dataDir, 'fault-insert-fail');
    writeFileSync(flag, '');
    await waitFor(
      async () => (await metric(url, 'connlog_collector_insert_errors_total')) >= 3,
      60_000,
      'three refused inserts (retries after nak and backoff)',
      200,
    );
    const insertedWhileFailing = await metric(url, 'connlog_collector_rows_inserted_total');
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.7));
    expect(await metric(url, 'connlog_collector_rows_inserted_total')).toBe(insertedWhileFailing);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).not.toBe(200);
    rmSync(flag);

    await traffic.untilCompleted(SESSIONS);
    const sessions = await traffic.stop();
    const figures = await settle('store refuses inserts', [f.collector], sessions, startedAt);
    expectAllStored(figures);
    // Backoff, not a busy loop: a handful of retries, not thousands.
    expect(await metric(url, 'connlog_collector_insert_errors_total')).toBeLessThan(50);
  });
});
