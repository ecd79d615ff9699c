import { describe, expect, it } from 'vitest';
import {
  faultCollector,
  SESSIONS,
  expectAllStored,
  settle,
  untilInserting,
  useFaultStack,
} from './fault_kit.js';

describe('fault: the collector killed with SIGKILL mid-ingest', () => {
  const fault = useFaultStack('collector-kill');

  it('redelivers what the dead collector had not acked; the restarted one stores it once', async () => {
    const f = fault();
    const startedAt = Date.now();
    const traffic = f.traffic(15);
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.3));
    await untilInserting(f.collector.url, 'rows inserted before the kill');
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
