import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '@connlog/testkit';
import {
  SESSIONS,
  TCP_RESOURCE,
  expectAllStored,
  openSession,
  report,
  settle,
  useFaultStack,
  storedSessions,
  tally,
  type ClientSession,
  type OpenSession,
} from './fault_kit.js';

/** Sessions held open across the crash. */
const HELD_OPEN = 8;
/**
 * Events of the last `publish.flushInterval` (100 ms here) before a kill -9 are still
 * in the agent's memory, not in its spool: a session that ended in that window is
 * ended at restart from its last spooled event (`agent_restart`), or — if even its
 * START was not spooled — not recorded at all. That is the documented loss window
 * (docs/reliability.md); sessions that ended more than this long before the kill
 * must be stored exactly. UDP sessions end `idleTimeout` (1 s) after their datagram.
 */
const WINDOW_MS = { tcp: 1000, udp: 2500 };

describe('fault: the agent killed with SIGKILL with sessions open', () => {
  const fault = useFaultStack('agent-kill');

  it('ends the open sessions with agent_restart and their last counters, loses nothing spooled', async () => {
    const f = fault();
    const startedAt = Date.now();
    const traffic = f.traffic(15);
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.3));

    const held: OpenSession[] = [];
    for (let i = 0; i < HELD_OPEN; i += 1) held.push(await openSession(f.tcpPort, f.tags.take()));
    // Wait until an UPDATE with each held session's counters is stored: those are
    // "the last counters it recorded" that the END after the restart must carry.
    await waitFor(
      async () => {
        const rows = [...(await storedSessions([f.collector])).values()];
        return held.every((session) =>
          rows.some(
            (row) =>
              row.source_port === session.localPort &&
              row.status === 'ongoing' &&
              row.bytes_tx === session.tag &&
              row.bytes_rx === session.tag,
          ),
        );
      },
      30_000,
      'an UPDATE of every held session',
      200,
    );

    const killAt = Date.now();
    expect(await f.agent.stop('SIGKILL')).toBe('SIGKILL');
    // A session may still complete between the signal and the process's death.
    const deadAt = Date.now();
    await sleep(1000);
    f.agent = await f.restartAgent();
    await traffic.untilCompleted(SESSIONS);
    const sessions = await traffic.stop();
    for (const session of held) session.socket.destroy();

    const inWindow = (s: ClientSession): boolean =>
      s.endedAt <= deadAt && s.endedAt > killAt - WINDOW_MS[s.protocol];
    const outside = sessions.filter((s) => !inWindow(s));
    const window = sessions.filter((s) => s.ok && inWindow(s));
    const figures = await settle('agent SIGKILL', [f.collector], outside, startedAt);
    const stored = await storedSessions([f.collector]);
    // Sessions that ended just before the kill: never twice, never left ongoing; how
    // many were cut short (agent_restart) or lost is reported, not asserted.
    const windowFigures = tally(window, stored);
    const restartEnded = new Set(
      [...stored.values()]
        .filter((row) => row.close_reason === 'agent_restart')
        .map((row) => `${row.resource_id}:${row.source_port}`),
    );
    const cut = window.filter((s) => restartEnded.has(`${s.resource}:${s.localPort}`)).length;
    report('agent SIGKILL: crash window', windowFigures, killAt, {
      cutShort: cut,
      lost: windowFigures.missing - cut,
    });
    expectAllStored(figures);
    expect(windowFigures.duplicated).toBe(0);
    for (const session of held) {
      const rows = [...stored.values()].filter(
        // The tag (bytes sent) tells it from a later session given the same port.
        (row) =>
          row.resource_id === TCP_RESOURCE &&
          row.source_port === session.localPort &&
          row.bytes_tx === session.tag,
      );
      expect(rows, `held session on port ${session.localPort}`).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        status: 'completed',
        close_reason: 'agent_restart',
        bytes_tx: session.tag,
        bytes_rx: session.tag,
      });
    }
  });
});
