import { join } from 'node:path';
import { Registry } from '@connlog/metrics';
import { EventKind } from '@connlog/proto';
import { startNatsServer, tempDir, waitFor } from '@connlog/testkit';
import { describe, expect, it } from 'vitest';
import { createAgent, parseConfig } from '../../src/index.js';
import { createSessionsStream, exchange, startTarget, StreamReader } from './harness.js';

describe('bounds: spool full while NATS is down', () => {
  // workers: 2 — the worker processes see the agent's gap and count their unrecorded
  // sessions into it (the metrics reach the agent's registry within a second).
  it.each([1, 2])(
    'keeps proxying, counts unrecorded sessions and reports them as a recording gap (workers: %i)',
    async (workers) => {
      const dir = tempDir('agent-gap');
      const nats = await startNatsServer();
      await createSessionsStream(nats.url);
      await nats.stop();
      const reader = new StreamReader(nats);
      const echo = await startTarget((socket) => {
        socket.on('data', (chunk: Buffer) => socket.write(chunk));
        socket.on('end', () => socket.end());
      });
      const registry = new Registry();
      const agent = createAgent(
        parseConfig({
          org: 'acme',
          site: 'berlin',
          workers,
          nats: { servers: [nats.url] },
          // A tiny spool and buffer so a few hundred sessions fill both.
          spool: { dir: join(dir.path, 'spool'), kind: 'memory', maxBytes: '64KiB' },
          publish: { flushInterval: '20ms', maxBatchBytes: '4KiB', maxBufferBytes: '32KiB' },
          http: { listen: '' },
          resources: [
            { id: 'gap', protocol: 'tcp', listen: '127.0.0.1:0', target: `127.0.0.1:${echo.port}` },
          ],
        }),
        { registry },
      );
      await agent.start();
      try {
        const listen = agent.status().resources[0]?.listen ?? '';
        const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
        const notRecorded = (): number =>
          Number(
            /connlog_agent_sessions_not_recorded_total (\d+)/.exec(registry.render())?.[1] ?? 0,
          );
        let sessions = 0;
        // Sessions until several went unrecorded; every one of them must still be proxied.
        while (notRecorded() < 20) {
          const batch = await Promise.all(
            Array.from({ length: 20 }, () => exchange(port, Buffer.from('ping'))),
          );
          for (const result of batch) expect(result.received.toString()).toBe('ping');
          sessions += batch.length;
          expect(sessions).toBeLessThan(5000);
        }
        expect(agent.status().buffer.recording).toBe(false);
        expect(registry.render()).toMatch(
          /connlog_agent_publish_errors_total\{stage="spool"\} [1-9]/,
        );

        await nats.restart();
        // Every unrecorded session is accounted for in a gap (one here, unless a slow disk
        // made the buffer overflow briefly before the spool filled up).
        const gaps = await waitFor(
          async () => {
            const found = (await reader.batchesSoFar()).flatMap((b) => b.batch.gaps);
            const total = found.reduce((sum, gap) => sum + gap.sessionsNotRecorded, 0);
            return total === notRecorded() ? found : undefined;
          },
          30_000,
          'gaps covering every unrecorded session',
        );
        expect(gaps.map((gap) => gap.reason)).toContain('spool_full');
        const unrecorded = notRecorded();
        await waitFor(
          () => agent.status().buffer.recording && agent.status().spool.batches === 0,
          30_000,
          'recording to resume and the spool to drain',
        );
        for (const gap of gaps) expect(gap.toMs).toBeGreaterThanOrEqual(gap.fromMs);
        // Nothing recorded was dropped: every recorded session has its START and its END.
        const events = await reader.events('gap');
        const starts = new Set(
          events.filter((e) => e.kind === EventKind.START).map((e) => e.sessionId),
        );
        const ends = new Set(
          events.filter((e) => e.kind === EventKind.END).map((e) => e.sessionId),
        );
        expect(starts.size + unrecorded).toBe(sessions);
        expect([...starts].every((id) => ends.has(id))).toBe(true);
        expect(agent.status().buffer.recording).toBe(true);
      } finally {
        await agent.close();
        await echo.close();
        await reader.close();
        await nats.remove();
        dir.remove();
      }
    },
  );
});
