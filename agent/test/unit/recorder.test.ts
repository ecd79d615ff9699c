import { CloseReason, EventKind, Protocol, type SessionEvent } from '@connlog/proto';
import { describe, expect, it } from 'vitest';
import { Recorder, type EventSink } from '../../src/session/recorder.js';
import { UUID_V7 } from '../../src/session/ids.js';
import { event, silentTelemetry } from './helpers.js';

function make(admit = true, telemetry = silentTelemetry()) {
  const events: SessionEvent[] = [];
  let accept = true;
  let now = 10_000;
  const sink: EventSink = {
    admitSession: () => admit,
    add: (e) => {
      if (!accept && e.kind === EventKind.UPDATE) return false;
      events.push(e);
      return true;
    },
  };
  const recorder = new Recorder({
    orgId: 'acme',
    siteId: 'berlin',
    agentId: 'agent-1',
    updateIntervalMs: 1000,
    sink,
    telemetry,
    now: () => now,
  });
  return {
    recorder,
    events,
    advance: (ms: number) => (now += ms),
    refuseUpdates: () => (accept = false),
  };
}

const init = {
  resourceId: 'db',
  protocol: Protocol.TCP,
  sourceAddress: '::ffff:192.168.1.7',
  sourcePort: 51000,
  destHost: 'db.internal',
  destPort: 5432,
};

describe('Recorder', () => {
  it('emits START, UPDATEs with cumulative counters, and END', () => {
    const { recorder, events, advance } = make();
    const session = recorder.start(init);
    expect(session.sessionId).toMatch(UUID_V7);
    recorder.setDestination(session, '10.0.0.5', 5432);
    session.bytesTx += 100;
    advance(500);
    recorder.tick();
    advance(500);
    recorder.tick();
    session.bytesRx += 7;
    advance(1000);
    recorder.tick();
    advance(10);
    recorder.end(session, { reason: CloseReason.CLIENT_CLOSED, error: '' });
    recorder.end(session, { reason: CloseReason.ERROR, error: 'late' });
    expect(events.map((e) => [e.kind, e.seq, e.bytesTx, e.bytesRx])).toEqual([
      [EventKind.START, 1, 0, 0],
      [EventKind.UPDATE, 2, 100, 0],
      [EventKind.UPDATE, 3, 100, 7],
      [EventKind.END, 4, 100, 7],
    ]);
    const [start, , , end] = events;
    expect(start).toMatchObject({
      orgId: 'acme',
      siteId: 'berlin',
      agentId: 'agent-1',
      resourceId: 'db',
      protocol: Protocol.TCP,
      sourceIp: Uint8Array.of(192, 168, 1, 7),
      sourcePort: 51000,
      destHost: 'db.internal',
      destIp: new Uint8Array(0),
      destPort: 5432,
      startedAtMs: 10_000,
      eventAtMs: 10_000,
      endedAtMs: 0,
      closeReason: CloseReason.CLOSE_REASON_UNSPECIFIED,
    });
    expect(end).toMatchObject({
      destIp: Uint8Array.of(10, 0, 0, 5),
      startedAtMs: 10_000,
      eventAtMs: 12_010,
      endedAtMs: 12_010,
      closeReason: CloseReason.CLIENT_CLOSED,
    });
    expect(recorder.openCount).toBe(0);
  });

  it('skips an UPDATE the sink refuses without burning a sequence number', () => {
    const { recorder, events, advance, refuseUpdates } = make();
    const session = recorder.start(init);
    refuseUpdates();
    advance(1000);
    recorder.tick();
    recorder.end(session, { reason: CloseReason.TARGET_CLOSED, error: '' });
    expect(events.map((e) => [e.kind, e.seq])).toEqual([
      [EventKind.START, 1],
      [EventKind.END, 2],
    ]);
  });

  it('proxies but does not record sessions the sink does not admit', () => {
    const { recorder, events } = make(false);
    const session = recorder.start(init);
    expect(session.recorded).toBe(false);
    expect(recorder.openCount).toBe(1);
    recorder.end(session, { reason: CloseReason.CLIENT_CLOSED, error: '' });
    expect(events).toHaveLength(0);
  });

  it('ends journal sessions with agent_restart at their last event', () => {
    const { recorder, events } = make();
    const last = event({
      kind: EventKind.UPDATE,
      seq: 3,
      eventAtMs: 5000,
      bytesTx: 10,
      bytesRx: 20,
    });
    recorder.recover([last]);
    expect(events).toEqual([
      {
        ...last,
        kind: EventKind.END,
        seq: 4,
        endedAtMs: 5000,
        closeReason: CloseReason.AGENT_RESTART,
        error: '',
      },
    ]);
  });

  it('sends a journaled END again unchanged (it may not have reached the spool)', () => {
    const { recorder, events } = make();
    const end = event({
      kind: EventKind.END,
      seq: 5,
      endedAtMs: 7000,
      closeReason: CloseReason.CLIENT_CLOSED,
      bytesTx: 11,
      bytesRx: 22,
    });
    recorder.recover([end]);
    expect(events).toEqual([end]);
  });

  it('carries an identity learned after accept on later events', () => {
    const { recorder, events } = make();
    const session = recorder.start(init);
    recorder.setIdentity(session, {
      clientId: 'laptop-42',
      userId: 'alice',
      source: { address: '2001:db8::7', port: 443 },
    });
    recorder.end(session, { reason: CloseReason.CLIENT_CLOSED, error: '' });
    expect(events[0]).toMatchObject({ clientId: '', userId: '', sourcePort: 51000 });
    expect(events[1]).toMatchObject({ clientId: 'laptop-42', userId: 'alice', sourcePort: 443 });
    expect(events[1]?.sourceIp).toHaveLength(16);
  });

  it('whenIdle resolves when the last session ends', async () => {
    const { recorder } = make();
    const a = recorder.start(init);
    const b = recorder.start({ ...init, resourceId: 'web' });
    expect(recorder.openCountOf('db')).toBe(1);
    let idle = false;
    const waiting = recorder.whenIdle().then(() => (idle = true));
    recorder.end(a, { reason: CloseReason.CLIENT_CLOSED, error: '' });
    await Promise.resolve();
    expect(idle).toBe(false);
    recorder.end(b, { reason: CloseReason.CLIENT_CLOSED, error: '' });
    await waiting;
    expect(idle).toBe(true);
  });

  it('counts sessions, close reasons and bytes per resource', () => {
    const telemetry = silentTelemetry();
    const { recorder } = make(true, telemetry);
    const a = recorder.start(init);
    const b = recorder.start(init);
    const c = recorder.start({ ...init, resourceId: 'web' });
    a.bytesTx += 10;
    a.bytesRx += 3;
    recorder.tick();
    a.bytesTx += 5;
    recorder.end(a, { reason: CloseReason.CLIENT_CLOSED, error: '' });
    recorder.end(b, { reason: CloseReason.RESET, error: 'ECONNRESET' });
    expect(recorder.openCountOf('db')).toBe(0);
    expect(recorder.openCountOf('web')).toBe(1);
    const text = telemetry.registry.render();
    for (const line of [
      'connlog_agent_sessions_started_total{resource="db"} 2',
      'connlog_agent_sessions_started_total{resource="web"} 1',
      'connlog_agent_sessions_open{resource="db"} 0',
      'connlog_agent_sessions_open{resource="web"} 1',
      'connlog_agent_sessions_ended_total{resource="db",reason="client_closed"} 1',
      'connlog_agent_sessions_ended_total{resource="db",reason="reset"} 1',
      'connlog_agent_bytes_total{resource="db",direction="tx"} 15',
      'connlog_agent_bytes_total{resource="db",direction="rx"} 3',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).not.toContain('resource="web",reason=');
    recorder.end(c, { reason: CloseReason.CLIENT_CLOSED, error: '' });
  });
});
