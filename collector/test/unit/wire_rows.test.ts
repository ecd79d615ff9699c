/**
 * The wire reader (fast path) against the reference path (protobufjs decode →
 * decodeMessage → toSessionsRowBinary) over generated and broken batches: where the
 * reference accepts, the reader must take the batch and write the same bytes and keys;
 * where it rejects, the reader must give up (so the reference makes the rejection)
 * and leave the payload as it was.
 */
import { describe, expect, it } from 'vitest';
import {
  CloseReason,
  EventKind,
  MAX_BATCH_BYTES,
  Protocol,
  encodeBatch,
  encodeBatchOfEncoded,
  encodeSessionEvent,
  type SessionEventBatchInput,
  type SessionEventInput,
} from '@connlog/proto';
import { decodeMessage } from '../../src/ingest/decode.js';
import { decodeToRowBinary } from '../../src/ingest/wire_rows.js';
import { ByteWriter } from '../../src/store/byte_writer.js';
import { toSessionsRowBinary } from '../../src/store/row_binary.js';

const SUBJECT = 'connlog.v1.sessions.acme.berlin';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const DAY = 86_400_000;
const EARLIEST = 946_684_800_000;
const options = { retentionFor: (org: string) => (org === 'acme' ? 90 : 30), now: () => NOW };

/** Seeded PRNG (mulberry32): failures reproduce. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Outcome =
  | { taken: true; bytes: Buffer; keys: string[]; rows: number; batchSeq: number; agent: string }
  | { taken: false; reason: string; message: string };

/** The reference: what the consumer did before the wire reader existed. */
function reference(subject: string, data: Uint8Array): Outcome | 'not-for-fast-path' {
  const result = decodeMessage(subject, data, options);
  if (!result.ok) return { taken: false, reason: result.reason, message: result.message };
  if (result.gapRows.length > 0 || result.retentionDays === 0) return 'not-for-fast-path';
  return {
    taken: true,
    bytes: toSessionsRowBinary(result.rows),
    keys: result.rows.map((row) => `${row.session_id}:${String(row.version)}`),
    rows: result.rows.length,
    batchSeq: result.batchSeq,
    agent: result.agentId,
  };
}

/** Bytes already in the payload before the message: they must survive a give-up. */
const PREFIX = Buffer.from('prefix of earlier rows');

/**
 * Compare the two paths on one message; returns whether the fast path took it. Where
 * the reference accepts, the fast path must take the message, unless `mayGiveUp` (a
 * valid but exotic encoding it leaves to the reference).
 */
function compare(data: Uint8Array, subject = SUBJECT, mayGiveUp = false): boolean {
  const expected = reference(subject, data);
  // A small writer: the reader must grow it mid-row correctly.
  const w = new ByteWriter(64);
  w.utf8Bytes(PREFIX, 0, PREFIX.length);
  const before = w.offset;
  const keys = ['earlier'];
  const wire = decodeToRowBinary(subject, data, w, keys, options);
  if (expected === 'not-for-fast-path' || !expected.taken) {
    expect(wire).toBeUndefined();
    expect(w.offset).toBe(before);
    expect(keys).toEqual(['earlier']);
    return false;
  }
  if (wire === undefined && mayGiveUp) {
    expect(w.offset).toBe(before);
    expect(keys).toEqual(['earlier']);
    return false;
  }
  expect(wire).toBeDefined();
  const written = w.done().subarray(before);
  // Buffer#equals first: a deep toEqual per byte is too slow for thousands of batches.
  if (!written.equals(expected.bytes)) expect(written).toEqual(expected.bytes);
  expect(keys.slice(1)).toEqual(expected.keys);
  expect(wire?.rowCount).toBe(expected.rows);
  expect(wire?.batchSeq).toBe(expected.batchSeq);
  expect(wire?.agentId).toBe(expected.agent);
  return true;
}

const HEX = '0123456789abcdefABCDEF';
const TEXTS = ['', 'a', 'db', 'é', 'ü-user', '日本語', '😀', 'x😀y', '\u0000', 'Ω'.repeat(3)];

/** Any number as an enum value: the generators send unknown ones on purpose. */
function asKind(value: number): EventKind {
  const kind = value as unknown as EventKind;
  return kind;
}
function asProtocol(value: number): Protocol {
  const protocol = value as unknown as Protocol;
  return protocol;
}
function asCloseReason(value: number): CloseReason {
  const reason = value as unknown as CloseReason;
  return reason;
}

function pick<T>(r: () => number, values: readonly T[]): T {
  const value = values[Math.floor(r() * values.length)];
  if (value === undefined) throw new Error('empty choice');
  return value;
}

function text(r: () => number, max: number, noisy: boolean): string {
  const roll = r();
  if (!noisy) {
    const value = roll < 0.5 ? pick(r, TEXTS) : 'é😀a'.repeat(Math.floor((r() * max) / 4));
    return value.length <= max ? value : '';
  }
  if (roll < 0.3) return pick(r, TEXTS);
  // Lengths around the column limits, ASCII or with multi-unit characters.
  const length = r() < 0.5 ? max + Math.floor(r() * 5) - 3 : Math.floor(r() * max);
  const unit = roll < 0.6 ? 'a' : roll < 0.8 ? 'é' : '😀';
  let out = unit.repeat(Math.max(0, Math.floor(length / unit.length)));
  if (out.length > length && length >= 0) out = out.slice(0, Math.max(0, length - 1));
  return out;
}

function uuid(r: () => number, noisy: boolean): string {
  const roll = noisy ? r() : 1;
  if (roll < 0.03) return '';
  if (roll < 0.06) return 'not-a-uuid';
  let out = '';
  for (let i = 0; i < 36; i += 1) {
    out +=
      i === 8 || i === 13 || i === 18 || i === 23 ? '-' : HEX.charAt(Math.floor(r() * HEX.length));
  }
  if (roll < 0.08) return `${out.slice(0, 35)}g`;
  if (roll < 0.1) return `${out}0`;
  return out;
}

function ip(r: () => number, noisy: boolean): Uint8Array {
  const roll = noisy ? r() : r() * 0.95;
  const length = roll < 0.05 ? 0 : roll < 0.5 ? 4 : roll < 0.95 ? 16 : 5;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) out[i] = r() < 0.4 ? 0 : Math.floor(r() * 256);
  return out;
}

function time(r: () => number, noisy: boolean): number {
  const roll = noisy ? r() : 0.2 + r() * 0.8;
  if (roll < 0.03) return 0;
  if (roll < 0.05) return EARLIEST - 1;
  if (roll < 0.07) return EARLIEST;
  if (roll < 0.09) return NOW + DAY;
  if (roll < 0.11) return NOW + DAY + 1;
  if (roll < 0.12) return -5;
  return NOW - Math.floor(r() * 10 * DAY);
}

function counter(r: () => number, noisy: boolean): number {
  const roll = noisy ? r() : r() < 0.5 ? r() * 0.13 : 0.2 + r() * 0.8;
  if (roll < 0.1) return 0;
  if (roll < 0.13) return Number.MAX_SAFE_INTEGER;
  if (roll < 0.15) return 2 ** 53 + 2;
  if (roll < 0.17) return 2 ** 62;
  if (roll < 0.19) return 2 ** 32;
  return Math.floor(r() * 2 ** (r() * 48));
}

/** An event; `noisy` puts the odd invalid value in (a few percent of fields). */
function event(r: () => number, agentId: string, noisy: boolean): SessionEventInput {
  const rare = (p: number): boolean => noisy && r() < p;
  const startedAtMs = time(r, noisy);
  return {
    sessionId: uuid(r, noisy),
    kind: asKind(rare(0.05) ? pick(r, [0, 4, 100]) : pick(r, [1, 2, 3])),
    seq: rare(0.05) ? pick(r, [0, 2 ** 53, 2 ** 60]) : 1 + Math.floor(r() * 1000),
    orgId: rare(0.03) ? pick(r, ['', 'other']) : 'acme',
    siteId: rare(0.03) ? pick(r, ['', 'paris']) : 'berlin',
    agentId: r() < 0.5 ? '' : rare(0.05) ? 'agent-2' : agentId,
    resourceId: text(r, 128, noisy),
    protocol: asProtocol(rare(0.05) ? pick(r, [0, 3]) : pick(r, [1, 2])),
    clientId: text(r, 256, noisy),
    userId: text(r, 256, noisy),
    sourceIp: ip(r, noisy),
    sourcePort: rare(0.05)
      ? pick(r, [65535, 65536, 2 ** 31, 2 ** 32 - 1])
      : Math.floor(r() * 65536),
    destIp: ip(r, noisy),
    destPort: rare(0.05) ? pick(r, [0, 65536]) : Math.floor(r() * 65536),
    destHost: text(r, 255, noisy),
    startedAtMs,
    eventAtMs: rare(0.2) ? time(r, noisy) : startedAtMs + Math.floor(r() * 5000),
    endedAtMs:
      noisy && r() < 0.3 ? 0 : rare(0.2) ? time(r, noisy) : startedAtMs + Math.floor(r() * 9000),
    bytesTx: counter(r, noisy),
    bytesRx: counter(r, noisy),
    packetsTx: counter(r, noisy),
    packetsRx: counter(r, noisy),
    closeReason: asCloseReason(rare(0.05) ? pick(r, [10, 99]) : Math.floor(r() * 10)),
    error: text(r, 256, noisy),
  };
}

function batch(
  r: () => number,
  events: SessionEventInput[],
  noisy: boolean,
): SessionEventBatchInput {
  const roll = noisy ? r() : 0.1 + r() * 0.8;
  return {
    agentId: roll < 0.02 ? '' : roll < 0.04 ? 'a'.repeat(129) : roll < 0.06 ? 'agent-é' : 'agent-1',
    batchSeq: roll > 0.98 ? 0 : roll > 0.96 ? 2 ** 53 : 1 + Math.floor(r() * 1e9),
    sentAtMs: NOW,
    orgId: noisy && r() < 0.02 ? 'other' : 'acme',
    siteId: 'berlin',
    agentVersion: r() < 0.5 ? '1.2.3' : '',
    events,
    gaps:
      r() < 0.03 ? [{ fromMs: NOW - 1000, toMs: NOW, sessionsNotRecorded: 3, reason: 'x' }] : [],
  };
}

/** Half the batches clean (all valid), half noisy (an odd bad value in a few percent of fields). */
function randomBatch(r: () => number): Uint8Array {
  const noisy = r() < 0.5;
  const count = noisy && r() < 0.05 ? 0 : 1 + Math.floor(r() * 12);
  const shape = batch(r, [], noisy);
  const agent = shape.agentId ?? '';
  const events = Array.from({ length: count }, () => event(r, agent, noisy));
  return encodeBatch({ ...shape, events });
}

/** A valid event, to build byte-level edge cases on. */
function goodEvent(overrides: SessionEventInput = {}): SessionEventInput {
  return {
    sessionId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    kind: EventKind.END,
    seq: 3,
    orgId: 'acme',
    siteId: 'berlin',
    agentId: 'agent-1',
    resourceId: 'db',
    protocol: Protocol.TCP,
    clientId: 'client',
    userId: 'user',
    sourceIp: Uint8Array.from([192, 0, 2, 10]),
    sourcePort: 50000,
    destIp: Uint8Array.from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    destPort: 5432,
    destHost: 'db.internal',
    startedAtMs: NOW - 5000,
    eventAtMs: NOW - 1000,
    endedAtMs: NOW - 1000,
    bytesTx: 100,
    bytesRx: 2000,
    closeReason: CloseReason.CLIENT_CLOSED,
    error: '',
    ...overrides,
  };
}

const BATCH = { agentId: 'agent-1', batchSeq: 7, sentAtMs: NOW, orgId: 'acme', siteId: 'berlin' };

/** A batch of encoded events with raw bytes appended to the first event. */
function withRawEventBytes(
  raw: readonly number[],
  base: SessionEventInput = goodEvent(),
): Uint8Array {
  const encoded = encodeSessionEvent(base);
  const first = new Uint8Array(encoded.length + raw.length);
  first.set(encoded);
  first.set(raw, encoded.length);
  return encodeBatchOfEncoded(BATCH, [first, encodeSessionEvent(goodEvent({ seq: 4 }))]);
}

/** A batch with raw bytes appended at the batch level. */
function withRawBatchBytes(raw: readonly number[]): Uint8Array {
  const encoded = encodeBatch({ ...BATCH, events: [goodEvent()] });
  const out = new Uint8Array(encoded.length + raw.length);
  out.set(encoded);
  out.set(raw, encoded.length);
  return out;
}

const utf8 = (value: string): number[] => [...Buffer.from(value, 'utf8')];
/** A varint, as protobuf writes it. */
function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}
const tag = (field: number, wireType: number): number[] => varint(field * 8 + wireType);
/** Field `field` as a length-delimited value of `bytes`. */
const delimited = (field: number, bytes: readonly number[]): number[] => [
  ...tag(field, 2),
  ...varint(bytes.length),
  ...bytes,
];

describe('decodeToRowBinary against the reference path', () => {
  it('takes valid batches and writes the same bytes and keys', () => {
    const events = [
      goodEvent(),
      goodEvent({
        kind: EventKind.START,
        seq: 1,
        endedAtMs: 0,
        closeReason: CloseReason.CLOSE_REASON_UNSPECIFIED,
      }),
      goodEvent({
        kind: EventKind.UPDATE,
        seq: 2,
        sessionId: '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B',
      }),
      goodEvent({
        sourceIp: new Uint8Array(0),
        destIp: new Uint8Array(16),
        protocol: Protocol.UDP,
      }),
      goodEvent({ userId: 'ユーザー😀', clientId: 'é'.repeat(256), error: '😀'.repeat(128) }),
      goodEvent({ bytesTx: Number.MAX_SAFE_INTEGER, sourcePort: 65535, destPort: 0 }),
      goodEvent({ startedAtMs: NOW, endedAtMs: NOW - 10, eventAtMs: NOW + DAY }),
      goodEvent({ agentId: '', resourceId: 'r'.repeat(128), destHost: 'h'.repeat(255) }),
    ];
    expect(compare(encodeBatch({ ...BATCH, events }))).toBe(true);
    expect(
      compare(encodeBatch({ ...BATCH, events, agentId: 'agent-ü', batchSeq: 2 ** 53 - 1 })),
    ).toBe(false);
    expect(
      compare(
        encodeBatch({
          ...BATCH,
          events: events.map((e) => ({ ...e, agentId: '' })),
          agentId: 'agent-ü',
        }),
      ),
    ).toBe(true);
  });

  it('agrees on thousands of random batches, and takes every valid one', () => {
    const r = rng(20261123);
    let taken = 0;
    let given = 0;
    for (let i = 0; i < 3000; i += 1) {
      if (compare(randomBatch(r))) taken += 1;
      else given += 1;
    }
    // The generator must exercise both sides, or the test proves nothing.
    expect(taken).toBeGreaterThan(1000);
    expect(given).toBeGreaterThan(100);
  }, 60_000);

  it('agrees on every truncation and on corrupted bytes', () => {
    const whole = encodeBatch({
      ...BATCH,
      events: [goodEvent(), goodEvent({ seq: 4, userId: 'é😀' })],
    });
    expect(compare(whole)).toBe(true);
    for (let length = 0; length < whole.length; length += 1) compare(whole.subarray(0, length));
    const r = rng(7);
    for (let i = 0; i < 2000; i += 1) {
      const copy = Uint8Array.from(whole);
      const flips = 1 + Math.floor(r() * 3);
      for (let f = 0; f < flips; f += 1) {
        copy[Math.floor(r() * copy.length)] = Math.floor(r() * 256);
      }
      compare(copy);
    }
  });

  it('skips unknown fields and known fields of another wire type', () => {
    const cases: number[][] = [
      [...tag(99, 0), 0x96, 0x01], // varint
      [...tag(99, 1), 1, 2, 3, 4, 5, 6, 7, 8], // fixed64
      [...tag(99, 5), 1, 2, 3, 4], // fixed32
      delimited(99, [1, 2, 3]),
      delimited(2000, [1, 0]),
      delimited(2 ** 29 - 1, [1]), // the largest field number: a 5-byte tag
      [...tag(7, 0), 5], // resource_id as a varint: unknown, skipped
      delimited(2, [1]), // kind as bytes: unknown, skipped
      [...tag(99, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11 bytes
      [...tag(7, 2), 0x80, 0x80, 0x80, 0x80, 0x00], // a length in 5 bytes (0)
      [0x80 | (7 << 3) | 2, 0x80, 0x80, 0x80, 0x00, 0x00], // a tag in 5 bytes
    ];
    for (const raw of cases) expect(compare(withRawEventBytes(raw))).toBe(true);
    expect(compare(withRawBatchBytes(delimited(99, [1, 2])))).toBe(true);
    expect(compare(withRawBatchBytes([...tag(3, 0), 0x05]))).toBe(true);
  });

  it('lets the last value of a repeated field win, as protobufjs does', () => {
    expect(compare(withRawEventBytes(delimited(7, utf8('other-resource'))))).toBe(true);
    expect(compare(withRawEventBytes(delimited(10, [])))).toBe(true);
    expect(compare(withRawEventBytes([...tag(12, 0), 80]))).toBe(true);
    expect(compare(withRawEventBytes([...tag(2, 0), 1]))).toBe(true); // END → START
    expect(compare(withRawEventBytes(delimited(1, [])))).toBe(false); // session_id emptied
    expect(compare(withRawBatchBytes(delimited(1, utf8('agent-1'))))).toBe(true);
    expect(compare(withRawBatchBytes(delimited(5, utf8('other'))))).toBe(false);
  });

  it('gives up on what the reference rejects or reads differently', () => {
    const cases: number[][] = [
      delimited(10, [0xff]), // not UTF-8
      delimited(10, [0xc0, 0x80]), // overlong
      delimited(10, [0xed, 0xa0, 0x80]), // surrogate
      delimited(10, [0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
      delimited(10, [0xe2, 0x82]), // cut short
      delimited(4, [0xff]), // unused text is still verified
      [...tag(99, 4)], // a stray end-group
      [...tag(99, 6), 0], // no such wire type
      [0, 0], // field number 0
      [...tag(12, 0), 0x80, 0x80, 0x84, 0x80, 0x80, 0x01], // port past 32 bits
      [...tag(3, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // seq, 10 bytes
      [...tag(7, 2), 0x80, 0x80, 0x80, 0x80, 0x08], // a length's 5th byte past 7
      [0x80 | (7 << 3) | 2, 0x80, 0x80, 0x80, 0x10, 0x00], // a tag's 5th byte past 15
      delimited(11, [1, 2, 3]), // 3-byte IP
    ];
    for (const raw of cases) expect(compare(withRawEventBytes(raw))).toBe(false);
    // kind 2^32 + 1: protobufjs keeps the low 32 bits (START) and accepts; the fast
    // path leaves such varints to it.
    const wideKind = [...tag(2, 0), 0x81, 0x80, 0x80, 0x80, 0x10];
    expect(compare(withRawEventBytes(wideKind), SUBJECT, true)).toBe(false);
    // A closed group of an unknown field: protobufjs skips it; the fast path does not
    // walk groups (proto3 has none).
    expect(compare(withRawEventBytes([...tag(99, 3), ...tag(99, 4)]), SUBJECT, true)).toBe(false);
    expect(compare(withRawEventBytes([...tag(99, 3), ...tag(98, 4)]))).toBe(false);
    expect(compare(withRawBatchBytes(delimited(8, [0xff])))).toBe(false);
    expect(compare(withRawBatchBytes([...tag(7, 2), 0]))).toBe(false); // an (empty) gap
  });

  it('agrees on valid UTF-8 edge cases', () => {
    for (const value of [
      '\uFEFFbom',
      '\u0080',
      '\u07FF',
      '\u0800',
      '\uFFFF',
      '\u{10000}',
      '\u{10FFFF}',
    ]) {
      expect(compare(encodeBatch({ ...BATCH, events: [goodEvent({ userId: value })] }))).toBe(true);
    }
  });

  it('gives up on subjects, sizes and retention the reference handles itself', () => {
    const good = encodeBatch({ ...BATCH, events: [goodEvent()] });
    expect(compare(good, 'connlog.v1.sessions.acme.paris')).toBe(false);
    expect(compare(good, 'connlog.v1.sessions.acme')).toBe(false);
    expect(compare(new Uint8Array(MAX_BATCH_BYTES + 1))).toBe(false);
    expect(compare(new Uint8Array(0))).toBe(false);
    const w = new ByteWriter(64);
    const keys: string[] = [];
    const none = { ...options, retentionFor: () => 0 };
    expect(decodeToRowBinary(SUBJECT, good, w, keys, none)).toBeUndefined();
    expect(w.offset).toBe(0);
  });
});
