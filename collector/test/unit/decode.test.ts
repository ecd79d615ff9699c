import { describe, expect, it } from 'vitest';
import { CloseReason, EventKind, Protocol, ipToBytes } from '@connlog/proto';

const unknownCloseReason = Number('99') as unknown as CloseReason;
import { decodeMessage, type DecodeResult } from '../../src/ingest/decode.js';
import { batchBytes, sessionEvents, startEvent } from '../helpers/events.js';

const SUBJECT = 'connlog.v1.sessions.acme.berlin';
const options = { retentionFor: (org: string) => (org === 'acme' ? 90 : 30) };

function rejected(result: DecodeResult): { reason: string; message: string } {
  if (result.ok) throw new Error('expected a rejection');
  return result;
}

describe('decodeMessage', () => {
  it('maps START, UPDATE and END to rows', () => {
    const events = sessionEvents();
    const result = decodeMessage(SUBJECT, batchBytes(events), options);
    if (!result.ok) throw new Error(result.message);
    expect(result.org).toBe('acme');
    expect(result.site).toBe('berlin');
    expect(result.rows).toHaveLength(3);
    const [start, update, end] = result.rows;
    const startedAt = events[0]?.startedAtMs ?? 0;
    expect(start).toEqual({
      org_id: 'acme',
      site_id: 'berlin',
      agent_id: 'agent-1',
      resource_id: 'db',
      session_id: events[0]?.sessionId,
      protocol: 'tcp',
      client_id: '',
      user_id: '',
      source_ip: '::ffff:192.0.2.10',
      source_port: 50000,
      dest_ip: '::ffff:10.0.0.5',
      dest_port: 5432,
      dest_host: 'db.internal',
      started_at: startedAt,
      ended_at: null,
      duration_ms: 0,
      bytes_tx: 0,
      bytes_rx: 0,
      packets_tx: 0,
      packets_rx: 0,
      close_reason: '',
      error: '',
      status: 'ongoing',
      retention_days: 90,
      version: 1,
    });
    expect(update).toMatchObject({
      version: 2,
      status: 'ongoing',
      duration_ms: 1000,
      bytes_rx: 20,
    });
    expect(end).toMatchObject({
      version: 3,
      status: 'completed',
      ended_at: startedAt + 2000,
      duration_ms: 2000,
      bytes_tx: 100,
      bytes_rx: 2000,
      close_reason: 'client_closed',
    });
  });

  it('keeps IPv6 as text and an absent IP as ::', () => {
    const event = startEvent({ sourceIp: ipToBytes('2001:db8::7'), destIp: new Uint8Array(0) });
    const result = decodeMessage(SUBJECT, batchBytes([event]), options);
    if (!result.ok) throw new Error(result.message);
    expect(result.rows[0]).toMatchObject({ source_ip: '2001:db8::7', dest_ip: '::' });
  });

  it('rejects a subject of another shape', () => {
    const result = decodeMessage('connlog.v1.sessions.acme', batchBytes([startEvent()]), options);
    expect(rejected(result).reason).toBe('subject');
  });

  it('rejects a batch whose org or site disagree with the subject', () => {
    const other = decodeMessage(
      'connlog.v1.sessions.acme.paris',
      batchBytes([startEvent()]),
      options,
    );
    expect(rejected(other)).toMatchObject({
      reason: 'subject',
      message: expect.stringContaining('connlog.v1.sessions.acme.paris') as unknown,
    });
  });

  it('rejects a batch with one event of another org', () => {
    const events = [startEvent(), startEvent({ orgId: 'evil' })];
    const result = rejected(decodeMessage(SUBJECT, batchBytes(events), options));
    expect(result.reason).toBe('subject');
    expect(result.message).toContain('events[1]');
  });

  it('rejects garbage and oversized batches', () => {
    expect(
      rejected(decodeMessage(SUBJECT, Buffer.from('not protobuf at all'), options)).reason,
    ).toMatch(/decode|invalid/);
    expect(rejected(decodeMessage(SUBJECT, new Uint8Array(2 * 1024 * 1024), options)).reason).toBe(
      'too_large',
    );
  });

  const invalid: [string, Parameters<typeof startEvent>[0], string][] = [
    ['a session id that is not a UUID', { sessionId: 'abc' }, 'session_id'],
    ['seq 0', { seq: 0 }, 'seq'],
    ['a port over 65535', { destPort: 70000 }, 'dest_port'],
    ['a 5-byte IP', { sourceIp: new Uint8Array(5) }, 'source_ip'],
    ['an unspecified protocol', { protocol: Protocol.PROTOCOL_UNSPECIFIED }, 'protocol'],
    // A value from a newer agent that this collector does not know.
    ['an unknown close reason', { closeReason: unknownCloseReason }, 'close_reason'],
    ['a time before 2000', { startedAtMs: 1000, eventAtMs: 1000 }, 'started_at_ms'],
    ['a time a week ahead', { eventAtMs: Date.now() + 7 * 86_400_000 }, 'event_at_ms'],
    ['an error text over 256 characters', { error: 'x'.repeat(300) }, 'error'],
    ['END without ended_at', { kind: EventKind.END, endedAtMs: 0 }, 'ended_at_ms'],
    ['another agent id', { agentId: 'agent-2' }, 'agent_id'],
  ];
  for (const [what, overrides, field] of invalid) {
    it(`rejects an event with ${what}`, () => {
      const events = [startEvent(), startEvent(overrides)];
      const result = rejected(decodeMessage(SUBJECT, batchBytes(events), options));
      expect(result.reason).toBe('invalid');
      expect(result.message).toContain('events[1]');
      expect(result.message).toContain(field);
    });
  }

  it('passes gaps through, as rows for recording_gaps', () => {
    const fromMs = Date.now() - 60_000;
    const bytes = batchBytes([], {
      gaps: [{ fromMs, toMs: fromMs + 5000, sessionsNotRecorded: 5, reason: 'spool_full' }],
    });
    const result = decodeMessage(SUBJECT, bytes, options);
    if (!result.ok) throw new Error(result.message);
    expect(result.rows).toEqual([]);
    expect(result.gaps).toMatchObject([{ sessionsNotRecorded: 5, reason: 'spool_full' }]);
    expect(result.retentionDays).toBe(90);
    expect(result.gapRows).toEqual([
      {
        org_id: 'acme',
        site_id: 'berlin',
        agent_id: expect.any(String) as string,
        from_at: fromMs,
        to_at: fromMs + 5000,
        sessions_not_recorded: 5,
        reason: 'spool_full',
        retention_days: 90,
      },
    ]);
  });

  it('rejects a gap that ends before it starts, naming it', () => {
    const fromMs = Date.now() - 60_000;
    const bytes = batchBytes([], {
      gaps: [{ fromMs, toMs: fromMs - 1, sessionsNotRecorded: 1, reason: 'buffer_full' }],
    });
    const result = decodeMessage(SUBJECT, bytes, options);
    expect(result).toMatchObject({ ok: false, reason: 'invalid' });
    if (!result.ok) expect(result.message).toMatch(/^gaps\[0\] to_ms .* is before from_ms/);
  });
});
