import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '@connlog/testkit';
import {
  Tags,
  faultCollector,
  metric,
  storedSessions,
  tally,
  tcpSession,
  type ClientSession,
} from './fault_kit.js';
import { startStack, type AgentHandle, type CollectorHandle, type Stack } from './stack.js';
import { echoTarget, type Target } from './targets.js';

interface GapTotal {
  gaps: number | string;
  sessions: number | string;
  from_ms: number | string;
  to_ms: number | string;
}

/**
 * The bounded-spool policy end to end: with NATS down and a tiny spool, the agent
 * keeps proxying, stops recording new sessions, and reports them as a recording gap
 * that reaches `connlog.recording_gaps` — so an analyst sees "N sessions not recorded
 * at site X between T1 and T2" — while every session it did record is stored.
 */
describe('fault: the agent spool fills up while NATS is down', () => {
  let stack: Stack;
  let collector: CollectorHandle;
  let agent: AgentHandle;
  let echo: Target;
  let port: number;

  beforeAll(async () => {
    stack = await startStack('spool-full');
    echo = await echoTarget();
    port = await freePort();
    collector = await stack.startCollector(faultCollector(stack));
    agent = await stack.startAgent(
      [
        {
          id: 'echo',
          protocol: 'tcp',
          listen: `127.0.0.1:${port}`,
          target: `127.0.0.1:${echo.port}`,
        },
      ],
      {
        spool: { dir: `${stack.dir}/agent-spool`, maxBytes: '64KiB' },
        publish: { flushInterval: '20ms', maxBatchBytes: '4KiB', maxBufferBytes: '32KiB' },
      },
    );
  });

  afterAll(async () => {
    await (stack as Stack | undefined)?.close();
    await (echo as Target | undefined)?.close();
  });

  it('proxies every session, stores the recorded ones, and stores a gap for the rest', async () => {
    const startedAt = Date.now();
    await stack.nats.stop();
    const tags = new Tags();
    const sessions: ClientSession[] = [];
    const notRecorded = () => metric(agent.url, 'connlog_agent_sessions_not_recorded_total');
    while ((await notRecorded()) < 20) {
      const round = await Promise.all(
        Array.from({ length: 20 }, () => tcpSession(port, tags.take())),
      );
      for (const session of round) expect(session.ok, `session ${session.tag}`).toBe(true);
      sessions.push(...round);
      expect(sessions.length).toBeLessThan(5000);
    }
    const unrecorded = await notRecorded();
    await stack.nats.restart();

    const total = await waitFor(
      async () => {
        const [row] = await collector.sql<GapTotal>(
          `SELECT count() AS gaps, sum(sessions_not_recorded) AS sessions,
             toUnixTimestamp64Milli(min(from_at)) AS from_ms,
             toUnixTimestamp64Milli(max(to_at)) AS to_ms
           FROM connlog.recording_gaps FINAL
           WHERE org_id = 'acme' AND site_id = 'berlin' FORMAT JSONEachRow`,
        );
        return row && Number(row.sessions) === unrecorded ? row : undefined;
      },
      60_000,
      `gaps totalling ${unrecorded} sessions in connlog.recording_gaps`,
      250,
    );
    expect(Number(total.gaps)).toBeGreaterThanOrEqual(1);
    expect(Number(total.from_ms)).toBeGreaterThanOrEqual(startedAt);
    expect(Number(total.to_ms)).toBeGreaterThanOrEqual(Number(total.from_ms));
    expect(Number(total.to_ms)).toBeLessThanOrEqual(Date.now());

    // Every session is accounted for: stored exactly once, or counted in a gap.
    const figures = await waitFor(
      async () => {
        const current = tally(sessions, await storedSessions([collector]));
        return current.stored + unrecorded === sessions.length ? current : undefined;
      },
      60_000,
      'every recorded session stored',
      500,
    );
    expect(figures.duplicated).toBe(0);
    expect(figures.ongoing).toBe(0);
    expect(figures.missing).toBe(unrecorded);
  });
});
