import { describe, expect, it } from 'vitest';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from '@connlog/testkit';
import { EventKind, Protocol, encodeBatch, ipToBytes, sessionsSubject } from '@connlog/proto';
import { SESSIONS, expectAllStored, metric, settle, useFaultStack } from './fault_kit.js';

describe('fault: garbage published on the sessions subject', () => {
  const fault = useFaultStack('dead-letter');

  it('moves bad batches to the dead-letter stream with their reason and keeps ingesting', async () => {
    const f = fault();
    const startedAt = Date.now();
    const traffic = f.traffic(10);
    await traffic.untilCompleted(Math.floor(SESSIONS * 0.3));

    const nc = await natsConnect({ servers: f.stack.nats.url });
    try {
      const js = jetstream(nc);
      const subject = sessionsSubject('acme', 'berlin');
      // Not protobuf at all.
      await js.publish(subject, new TextEncoder().encode('\u00ff\u00fe not a batch at all'));
      // Decodes, but an event breaks the contract (seq 0): the whole batch is rejected.
      const now = Date.now();
      const invalid = encodeBatch({
        agentId: 'intruder',
        batchSeq: 1,
        sentAtMs: now,
        orgId: 'acme',
        siteId: 'berlin',
        events: [
          {
            sessionId: '01936f1e-0000-7000-8000-00000000dead',
            kind: EventKind.START,
            seq: 0,
            orgId: 'acme',
            siteId: 'berlin',
            agentId: 'intruder',
            resourceId: 'db',
            protocol: Protocol.TCP,
            sourceIp: ipToBytes('10.0.0.1'),
            sourcePort: 1,
            destIp: ipToBytes('10.0.0.2'),
            destPort: 2,
            startedAtMs: now,
            eventAtMs: now,
          },
        ],
      });
      await js.publish(subject, invalid, { msgID: 'intruder:1' });

      const jsm = await jetstreamManager(nc);
      await waitFor(
        async () => (await jsm.streams.info('CONNLOG_DEAD')).state.messages === 2,
        30_000,
        'two dead letters',
        200,
      );
      for (const reason of ['decode', 'invalid']) {
        const dead = await jsm.streams.getMessage('CONNLOG_DEAD', {
          last_by_subj: `connlog.v1.dead.${reason}`,
        });
        expect(dead?.header.get('Connlog-Reject-Reason')).toBe(reason);
        expect(dead?.header.get('Connlog-Original-Subject')).toBe(subject);
        expect(dead?.header.get('Connlog-Reject-Error')).not.toBe('');
      }
    } finally {
      await nc.close();
    }
    const { url } = f.collector;
    expect(await metric(url, 'connlog_collector_dead_letter_total', 'reason="decode"')).toBe(1);
    expect(await metric(url, 'connlog_collector_dead_letter_total', 'reason="invalid"')).toBe(1);

    await traffic.untilCompleted(SESSIONS);
    const sessions = await traffic.stop();
    const figures = await settle('garbage on the subject', [f.collector], sessions, startedAt);
    expectAllStored(figures);
    const intruder = await f.collector.sql<{ n: number }>(
      "SELECT count() AS n FROM connlog.sessions WHERE agent_id = 'intruder' FORMAT JSONEachRow",
    );
    expect(Number(intruder[0]?.n)).toBe(0);
    // Both dead letters were acked on the main stream: nothing is pending for the consumer.
    await waitFor(
      async () => (await metric(url, 'connlog_collector_consumer_ack_pending')) === 0,
      30_000,
      'no unacked message on the sessions consumer',
      500,
    );
  });
});
