import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '@connlog/testkit';
import { SESSIONS, expectAllStored, metric, settle, useFaultStack } from './fault_kit.js';

const OUTAGE_MS = 20_000;

describe('fault: nats-server stopped for 20 s mid-traffic', () => {
  const fault = useFaultStack('nats-outage');

  it('spools during the outage, replays after it, and stores every session exactly once', async () => {
    const f = fault();
    const startedAt = Date.now();
    const traffic = f.traffic(30);
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.2));

    await f.stack.nats.stop();
    const downAt = Date.now();
    await waitFor(
      async () => (await metric(f.agent.url, 'connlog_agent_nats_connected')) === 0,
      15_000,
      'the agent to see NATS gone',
      100,
    );
    // Traffic keeps flowing through the agent while its events pile up in the spool.
    const completedAtOutage = traffic.completed;
    await waitFor(
      async () => (await metric(f.agent.url, 'connlog_agent_spool_batches')) > 0,
      15_000,
      'batches waiting in the spool',
      100,
    );
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    expect(traffic.completed).toBeGreaterThan(completedAtOutage);
    await f.stack.nats.restart();

    await traffic.untilCompleted(SESSIONS);
    const sessions = await traffic.stop();
    const figures = await settle('nats-server down 20 s', [f.collector], sessions, startedAt);
    expectAllStored(figures);
    await waitFor(
      async () => (await metric(f.agent.url, 'connlog_agent_spool_batches')) === 0,
      30_000,
      'the spool to drain',
      200,
    );
  });
});
