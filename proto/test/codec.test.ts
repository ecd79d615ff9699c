import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  CloseReason,
  EventKind,
  ProtoError,
  Protocol,
  decodeBatch,
  decodeSessionEvent,
  encodeBatch,
  encodeBatchOfEncoded,
  encodeSessionEvent,
  ipToBytes,
  bytesToIp,
  bytesToIpv6Text,
  closeReasonName,
  closeReasonFromName,
  CLOSE_REASON_NAMES,
  parseSessionsSubject,
  sessionsSubject,
  batchMsgId,
} from '../src/index.js';

const event = {
  sessionId: '01890a5d-ac96-774b-bcce-b302099a8057',
  kind: EventKind.END,
  seq: 3,
  orgId: 'acme',
  siteId: 'berlin',
  agentId: 'agent-1',
  resourceId: 'db',
  protocol: Protocol.TCP,
  clientId: 'c1',
  userId: 'u1',
  sourceIp: ipToBytes('10.1.2.3'),
  sourcePort: 50123,
  destIp: ipToBytes('2001:db8::5'),
  destPort: 5432,
  destHost: 'db.internal',
  startedAtMs: 1_700_000_000_000,
  eventAtMs: 1_700_000_005_000,
  endedAtMs: 1_700_000_005_000,
  bytesTx: 2 ** 40 + 7,
  bytesRx: 123,
  packetsTx: 0,
  packetsRx: 0,
  closeReason: CloseReason.TARGET_CLOSED,
  error: '',
};

describe('batch codec', () => {
  it('round-trips every field', () => {
    const bytes = encodeBatch({
      agentId: 'agent-1',
      batchSeq: 42,
      sentAtMs: 1_700_000_006_000,
      orgId: 'acme',
      siteId: 'berlin',
      agentVersion: '0.1.0',
      events: [event],
      gaps: [{ fromMs: 1, toMs: 2, sessionsNotRecorded: 9, reason: 'spool_full' }],
    });
    const batch = decodeBatch(bytes);
    expect(batch.agentId).toBe('agent-1');
    expect(batch.batchSeq).toBe(42);
    expect(batch.gaps[0]).toMatchObject({ sessionsNotRecorded: 9, reason: 'spool_full' });
    const [decoded] = batch.events;
    expect(decoded).toBeDefined();
    for (const [key, value] of Object.entries(event)) {
      const actual = (decoded as unknown as Record<string, unknown>)[key];
      if (value instanceof Uint8Array) expect(Array.from(actual as Uint8Array)).toEqual([...value]);
      else expect(actual).toBe(value);
    }
  });

  it('rejects a truncated buffer with PROTO_DECODE', () => {
    const bytes = encodeBatch({ agentId: 'a', batchSeq: 1, events: [event] });
    const truncated = bytes.subarray(0, bytes.length - 5);
    expect(() => decodeBatch(truncated)).toThrow(ProtoError);
    try {
      decodeBatch(truncated);
    } catch (err) {
      expect((err as ProtoError).code).toBe('PROTO_DECODE');
      expect((err as ProtoError).message).toMatch(/not valid protobuf/);
    }
  });

  it('rejects garbage bytes with a ProtoError', () => {
    const garbage = Buffer.from('this is definitely not a protobuf batch \xff\xff\xff', 'latin1');
    expect(() => decodeBatch(garbage)).toThrow(ProtoError);
    expect(() => decodeBatch(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(ProtoError);
  });

  it('rejects a batch that decodes but is not a batch', () => {
    expect(() => decodeBatch(new Uint8Array(0))).toThrow(/no agent_id/);
    const noSession = encodeBatch({
      agentId: 'a',
      batchSeq: 1,
      events: [{ kind: EventKind.START }],
    });
    expect(() => decodeBatch(noSession)).toThrow(/events\[0\] has no session_id/);
  });

  it('builds the same bytes from events encoded one by one', () => {
    const header = {
      agentId: 'agent-1',
      batchSeq: 7,
      sentAtMs: 1_700_000_006_000,
      orgId: 'acme',
      siteId: 'berlin',
      agentVersion: '0.1.0',
    };
    const second = { ...event, sessionId: 'x', kind: EventKind.START, seq: 1, error: 'é' };
    const gaps = [{ fromMs: 1, toMs: 2, sessionsNotRecorded: 9, reason: 'buffer_full' }];
    for (const [events, withGaps] of [
      [[event, second], gaps],
      [[event], []],
      [[], gaps],
    ] as const) {
      const expected = encodeBatch({ ...header, events: [...events], gaps: [...withGaps] });
      const built = encodeBatchOfEncoded(
        { ...header, gaps: [...withGaps] },
        events.map((e) => encodeSessionEvent(e)),
      );
      expect(Buffer.from(built).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('decodes one event into a plain object with every field', () => {
    const decoded = decodeSessionEvent(encodeSessionEvent(event));
    expect(decoded).toEqual(event);
    expect(Object.keys(decoded).sort()).toEqual(Object.keys(event).sort());
    expect(decodeSessionEvent(new Uint8Array(0))).toMatchObject({ sessionId: '', seq: 0 });
    expect(() => decodeSessionEvent(Uint8Array.of(0xff, 0xff))).toThrow(ProtoError);
  });

  it('rejects oversized input before decoding', () => {
    try {
      decodeBatch(new Uint8Array(100), 10);
      expect.fail('should throw');
    } catch (err) {
      expect((err as ProtoError).code).toBe('PROTO_TOO_LARGE');
    }
  });
});

describe('ip bytes', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1', '::ffff:127.0.0.1'],
    ['::ffff:10.0.0.1', '10.0.0.1', '::ffff:10.0.0.1'],
    ['::1', '::1', '::1'],
    ['2001:db8::5', '2001:db8::5', '2001:db8::5'],
    ['fe80::1:0:0:2', 'fe80::1:0:0:2', 'fe80::1:0:0:2'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('%s', (input, text, v6) => {
    const bytes = ipToBytes(input);
    expect(bytesToIp(bytes)).toBe(text);
    expect(bytesToIpv6Text(bytes)).toBe(v6);
  });

  it('returns empty bytes for a non-IP', () => {
    expect(ipToBytes('db.internal').length).toBe(0);
  });

  it('parses exactly the dotted quads node:net accepts', () => {
    const cases = [
      '0.0.0.0',
      '255.255.255.255',
      '10.20.30.40',
      '::FFFF:10.0.0.1',
      '01.2.3.4',
      '1.2.3.04',
      '00.1.1.1',
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '1..2.3',
      '1.2.3.',
      '.1.2.3',
      '::ffff:1.2.3',
      '1.2.3.4x',
      '',
    ];
    for (const text of cases) {
      const v4 = /^::ffff:/i.test(text) ? text.slice(7) : text;
      const expected = isIP(v4) === 4 ? v4.split('.').map(Number) : [];
      expect([...ipToBytes(text)], text).toEqual(expected);
    }
  });
});

describe('names and subjects', () => {
  it('maps every close reason both ways', () => {
    for (const name of CLOSE_REASON_NAMES) {
      const value = closeReasonFromName(name);
      expect(value).toBeDefined();
      expect(closeReasonName(value as CloseReason)).toBe(name);
    }
    expect(closeReasonName(CloseReason.CLOSE_REASON_UNSPECIFIED)).toBe('');
  });

  it('builds and parses subjects', () => {
    expect(sessionsSubject('acme', 'berlin')).toBe('connlog.v1.sessions.acme.berlin');
    expect(parseSessionsSubject('connlog.v1.sessions.acme.berlin')).toEqual({
      org: 'acme',
      site: 'berlin',
    });
    expect(parseSessionsSubject('connlog.v1.sessions.acme')).toBeUndefined();
    expect(parseSessionsSubject('other.acme.berlin')).toBeUndefined();
    expect(batchMsgId('a1', 7)).toBe('a1:7');
  });
});
