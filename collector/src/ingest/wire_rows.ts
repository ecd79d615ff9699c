/**
 * The ingest fast path: one walk over a batch's protobuf bytes that validates each
 * event and writes its RowBinary row straight into the payload, without the
 * protobufjs objects, row objects and strings of the reference path (decode.ts →
 * row_binary.ts), which cost most of the collector's JavaScript thread under load.
 *
 * It only ever accepts: a batch it accepts gives the same bytes and dedup keys as the
 * reference path (test/unit/wire_rows.test.ts runs both over generated and broken
 * batches). Anything else — a malformed or oversized message, a value the reference
 * would reject, and the rare shapes not worth a second implementation (recording
 * gaps, groups, varints past 8 bytes, retention 0) — makes it give up: it rewinds what
 * it wrote and returns undefined, and the caller runs the reference path, which
 * produces the rejection (dead-letter reason and message) exactly as before.
 */
import {
  CloseReason,
  EventKind,
  MAX_BATCH_BYTES,
  MAX_ERROR_CHARS,
  Protocol,
  bytesToIpv6Text,
  closeReasonName,
  parseSessionsSubject,
  protocolName,
} from '@connlog/proto';
import type { ByteWriter } from '../store/byte_writer.js';
import type { DecodeOptions } from './decode.js';
import {
  EARLIEST_MS,
  MAX_FUTURE_MS,
  MAX_HOST_CHARS,
  MAX_IDENTITY_CHARS,
  MAX_ID_CHARS,
} from './limits.js';

export interface WireBatch {
  org: string;
  site: string;
  agentId: string;
  batchSeq: number;
  /** Rows written (one per event). */
  rowCount: number;
}

const UUID_CHARS = 36;

const KIND_END: number = EventKind.END;
const TCP: number = Protocol.TCP;
const UDP: number = Protocol.UDP;
/** Names indexed by enum value (an array read on the hot path, not a Map lookup). */
const PROTOCOL_NAMES: string[] = [];
for (const value of [Protocol.PROTOCOL_UNSPECIFIED, Protocol.TCP, Protocol.UDP]) {
  PROTOCOL_NAMES[value] = protocolName(value);
}
/** Every defined CloseReason; a value with no entry is one the reference rejects. */
const CLOSE_REASON_NAMES: (string | undefined)[] = [];
for (const value of Object.values(CloseReason)) {
  if (typeof value === 'number') CLOSE_REASON_NAMES[value] = closeReasonName(value);
}

/** Why the walk gave up; never seen outside this file (the caller only sees undefined). */
class GiveUp extends Error {}
/** One instance: giving up is a jump back to `decodeToRowBinary`, not an error to report. */
const GIVE_UP = new GiveUp('not for the fast path');

function giveUp(): never {
  throw GIVE_UP;
}

/** Read position of the walk (one per call; the module keeps none between calls). */
interface Cursor {
  buf: Uint8Array;
  pos: number;
}

/**
 * A varint of at most 8 bytes (56 bits) that is a safe integer, else give up. Within
 * that range it equals protobufjs' uint32/uint64/int64 readings (int64 only differs
 * for negative values, which take 10 bytes).
 */
function varint(c: Cursor, end: number): number {
  const buf = c.buf;
  let pos = c.pos;
  if (pos >= end) giveUp();
  let b = buf[pos] ?? 0;
  pos += 1;
  if (b < 0x80) {
    c.pos = pos;
    return b;
  }
  let value = b & 0x7f;
  let scale = 0x80;
  for (let i = 1; i < 8; i += 1) {
    if (pos >= end) giveUp();
    b = buf[pos] ?? 0;
    pos += 1;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) giveUp();
      c.pos = pos;
      return value;
    }
    scale *= 0x80;
  }
  return giveUp();
}

/**
 * A tag (`tag`) or a length (`size`) of at most 5 bytes, read as protobufjs reads them:
 * 32 bits, where the 5th byte may only carry bits 28-31 (a tag) or 28-30 (a length);
 * anything else there is an error in protobufjs, and this gives up.
 */
function shortVarint(c: Cursor, end: number, lastMax: number): number {
  const buf = c.buf;
  let pos = c.pos;
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) giveUp();
    const b = buf[pos] ?? 0;
    pos += 1;
    value |= (b & 0x7f) << shift;
    if (b < 0x80) {
      c.pos = pos;
      return value >>> 0;
    }
  }
  if (pos >= end) giveUp();
  const last = buf[pos] ?? 0;
  if (last > lastMax) giveUp();
  c.pos = pos + 1;
  return (value | (last << 28)) >>> 0;
}

/** Largest 5th byte of a tag and of a length (see `shortVarint`). */
const TAG_LAST = 15;
const SIZE_LAST = 7;

function readTag(c: Cursor, end: number): number {
  return shortVarint(c, end, TAG_LAST);
}

/** The end of a length-delimited value starting at `c.pos`; `c.pos` moves past its length. */
function delimited(c: Cursor, end: number): number {
  const length = shortVarint(c, end, SIZE_LAST);
  const to = c.pos + length;
  if (to > end) giveUp();
  return to;
}

/** Skip an unknown field as protobufjs does; groups (wire types 3, 4) give up. */
function skip(c: Cursor, wireType: number, end: number): void {
  switch (wireType) {
    case 0: {
      const buf = c.buf;
      let pos = c.pos;
      for (;;) {
        if (pos >= end) giveUp();
        const b = buf[pos] ?? 0;
        pos += 1;
        if (b < 0x80) break;
      }
      c.pos = pos;
      return;
    }
    case 1:
      if (c.pos + 8 > end) giveUp();
      c.pos += 8;
      return;
    case 2:
      c.pos = delimited(c, end);
      return;
    case 5:
      if (c.pos + 4 > end) giveUp();
      c.pos += 4;
      return;
    default:
      giveUp();
  }
}

/**
 * UTF-16 length of the UTF-8 text `buf[start, end)` — what `string.length` gives after
 * protobufjs decodes it — or give up when the bytes are not well-formed UTF-8 (its
 * strict decoder throws on exactly those: overlongs, surrogates, past U+10FFFF).
 */
function utf16Length(buf: Uint8Array, start: number, end: number): number {
  let units = 0;
  let i = start;
  while (i < end) {
    const b = buf[i] ?? 0;
    if (b < 0x80) {
      i += 1;
      units += 1;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return giveUp();
    if (i + need >= end) giveUp();
    const second = buf[i + 1] ?? 0;
    if (second < lo || second > hi) giveUp();
    for (let k = 2; k <= need; k += 1) {
      const next = buf[i + k] ?? 0;
      if (next < 0x80 || next > 0xbf) giveUp();
    }
    i += need + 1;
    units += need === 3 ? 2 : 1;
  }
  return units;
}

/** Whether `buf[start, end)` holds exactly the ASCII text `text`. */
function bytesEqual(buf: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i += 1) {
    if (buf[start + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** `buf[start, end)` is a UUID in canonical text form (the reference's regex, /i). */
function isUuid(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== UUID_CHARS) return false;
  for (let i = 0; i < UUID_CHARS; i += 1) {
    const c = buf[start + i] ?? 0;
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!isHex(c)) return false;
  }
  return true;
}

function plausibleTime(value: number, now: number): boolean {
  return value >= EARLIEST_MS && value <= now + MAX_FUTURE_MS;
}

/** What the batch-level walk found (field values are last-wins, as in protobufjs). */
interface BatchFields {
  agentStart: number;
  agentEnd: number;
  batchSeq: number;
  events: number;
}

function readBatchFields(c: Cursor, end: number, org: string, site: string): BatchFields {
  const buf = c.buf;
  const fields: BatchFields = { agentStart: 0, agentEnd: 0, batchSeq: 0, events: 0 };
  let orgStart = 0;
  let orgEnd = 0;
  let siteStart = 0;
  let siteEnd = 0;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0) giveUp();
    if (wireType === 2 && (field === 1 || field === 5 || field === 6 || field === 8)) {
      const to = delimited(c, end);
      utf16Length(buf, c.pos, to);
      if (field === 1) {
        fields.agentStart = c.pos;
        fields.agentEnd = to;
      } else if (field === 5) {
        orgStart = c.pos;
        orgEnd = to;
      } else if (field === 6) {
        siteStart = c.pos;
        siteEnd = to;
      }
      c.pos = to;
    } else if (wireType === 0 && (field === 2 || field === 3)) {
      const value = varint(c, end);
      if (field === 2) fields.batchSeq = value;
    } else if (wireType === 2 && field === 4) {
      c.pos = delimited(c, end);
      fields.events += 1;
    } else if (field === 7) {
      giveUp();
    } else {
      skip(c, wireType, end);
    }
  }
  if (!bytesEqual(buf, orgStart, orgEnd, org) || !bytesEqual(buf, siteStart, siteEnd, site)) {
    giveUp();
  }
  return fields;
}

/** Per-batch values every row repeats. */
interface BatchContext {
  org: string;
  site: string;
  agentStart: number;
  agentEnd: number;
  retentionDays: number;
  now: number;
}

/** One event `buf[c.pos, end)` → one RowBinary row in `w` and its dedup key in `keys`. */
function writeEvent(
  c: Cursor,
  end: number,
  ctx: BatchContext,
  w: ByteWriter,
  keys: string[],
): void {
  const buf = c.buf;
  let sessionStart = 0;
  let sessionEnd = 0;
  let kind = 0;
  let seq = 0;
  let orgStart = 0;
  let orgEnd = 0;
  let siteStart = 0;
  let siteEnd = 0;
  let agentStart = 0;
  let agentEnd = 0;
  let resourceStart = 0;
  let resourceEnd = 0;
  let protocol = 0;
  let clientStart = 0;
  let clientEnd = 0;
  let userStart = 0;
  let userEnd = 0;
  let sourceIpStart = 0;
  let sourceIpEnd = 0;
  let sourcePort = 0;
  let destIpStart = 0;
  let destIpEnd = 0;
  let destPort = 0;
  let hostStart = 0;
  let hostEnd = 0;
  let startedAt = 0;
  let eventAt = 0;
  let endedAt = 0;
  let bytesTx = 0;
  let bytesRx = 0;
  let packetsTx = 0;
  let packetsRx = 0;
  let closeReason = 0;
  let errorStart = 0;
  let errorEnd = 0;
  // Text lengths in UTF-16 units, as the reference measures them.
  let resourceChars = 0;
  let clientChars = 0;
  let userChars = 0;
  let hostChars = 0;
  let errorChars = 0;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0) giveUp();
    if (wireType === 0) {
      switch (field) {
        case 2:
          kind = varint(c, end);
          continue;
        case 3:
          seq = varint(c, end);
          continue;
        case 8:
          protocol = varint(c, end);
          continue;
        case 12:
          sourcePort = varint(c, end);
          continue;
        case 14:
          destPort = varint(c, end);
          continue;
        case 16:
          startedAt = varint(c, end);
          continue;
        case 17:
          eventAt = varint(c, end);
          continue;
        case 18:
          endedAt = varint(c, end);
          continue;
        case 19:
          bytesTx = varint(c, end);
          continue;
        case 20:
          bytesRx = varint(c, end);
          continue;
        case 21:
          packetsTx = varint(c, end);
          continue;
        case 22:
          packetsRx = varint(c, end);
          continue;
        case 23:
          closeReason = varint(c, end);
          continue;
        default:
          skip(c, wireType, end);
          continue;
      }
    }
    if (wireType !== 2) {
      skip(c, wireType, end);
      continue;
    }
    const to = delimited(c, end);
    const from = c.pos;
    c.pos = to;
    switch (field) {
      case 1:
        utf16Length(buf, from, to);
        sessionStart = from;
        sessionEnd = to;
        break;
      case 4:
        utf16Length(buf, from, to);
        orgStart = from;
        orgEnd = to;
        break;
      case 5:
        utf16Length(buf, from, to);
        siteStart = from;
        siteEnd = to;
        break;
      case 6:
        utf16Length(buf, from, to);
        agentStart = from;
        agentEnd = to;
        break;
      case 7:
        resourceChars = utf16Length(buf, from, to);
        resourceStart = from;
        resourceEnd = to;
        break;
      case 9:
        clientChars = utf16Length(buf, from, to);
        clientStart = from;
        clientEnd = to;
        break;
      case 10:
        userChars = utf16Length(buf, from, to);
        userStart = from;
        userEnd = to;
        break;
      case 11:
        sourceIpStart = from;
        sourceIpEnd = to;
        break;
      case 13:
        destIpStart = from;
        destIpEnd = to;
        break;
      case 15:
        hostChars = utf16Length(buf, from, to);
        hostStart = from;
        hostEnd = to;
        break;
      case 24:
        errorChars = utf16Length(buf, from, to);
        errorStart = from;
        errorEnd = to;
        break;
      default:
        // An unknown length-delimited field: already skipped.
        break;
    }
  }

  // The reference's checks (decode.ts toRow, codec.ts assertBatchShape); any failure
  // gives up so the reference produces the rejection.
  const now = ctx.now;
  const ended = kind === KIND_END;
  const sourceIpBytes = sourceIpEnd - sourceIpStart;
  const destIpBytes = destIpEnd - destIpStart;
  const agentBytes = agentEnd - agentStart;
  if (
    !isUuid(buf, sessionStart, sessionEnd) ||
    kind < 1 ||
    kind > KIND_END ||
    (protocol !== TCP && protocol !== UDP) ||
    CLOSE_REASON_NAMES[closeReason] === undefined ||
    seq < 1 ||
    !bytesEqual(buf, orgStart, orgEnd, ctx.org) ||
    !bytesEqual(buf, siteStart, siteEnd, ctx.site) ||
    (agentBytes !== 0 && !sameBytes(buf, agentStart, agentEnd, ctx.agentStart, ctx.agentEnd)) ||
    sourcePort > 0xffff ||
    destPort > 0xffff ||
    (sourceIpBytes !== 0 && sourceIpBytes !== 4 && sourceIpBytes !== 16) ||
    (destIpBytes !== 0 && destIpBytes !== 4 && destIpBytes !== 16) ||
    resourceChars > MAX_ID_CHARS ||
    clientChars > MAX_IDENTITY_CHARS ||
    userChars > MAX_IDENTITY_CHARS ||
    hostChars > MAX_HOST_CHARS ||
    errorChars > MAX_ERROR_CHARS ||
    !plausibleTime(startedAt, now) ||
    !plausibleTime(eventAt, now) ||
    (ended && !plausibleTime(endedAt, now))
  ) {
    giveUp();
  }

  // Columns in SESSION_INSERT_COLUMNS order, as row_binary.ts writes a row.
  w.string(ctx.org);
  w.string(ctx.site);
  w.utf8Bytes(buf, ctx.agentStart, ctx.agentEnd);
  w.utf8Bytes(buf, resourceStart, resourceEnd);
  const keyStart = w.offset + 1;
  w.lowerAscii(buf, sessionStart, sessionEnd);
  keys.push(`${w.latin1(keyStart, keyStart + UUID_CHARS)}:${String(seq)}`);
  w.string(PROTOCOL_NAMES[protocol] ?? '');
  w.utf8Bytes(buf, clientStart, clientEnd);
  w.utf8Bytes(buf, userStart, userEnd);
  ipText(w, buf, sourceIpStart, sourceIpBytes);
  w.u16(sourcePort, 'source_port');
  ipText(w, buf, destIpStart, destIpBytes);
  w.u16(destPort, 'dest_port');
  w.utf8Bytes(buf, hostStart, hostEnd);
  w.u64(startedAt, 'started_at');
  if (ended) {
    w.u8(0);
    w.u64(endedAt, 'ended_at');
  } else {
    w.u8(1);
  }
  // Wall clocks can step back; a negative duration would be noise, not information.
  w.u64(Math.max(0, (ended ? endedAt : eventAt) - startedAt), 'duration_ms');
  w.u64(bytesTx, 'bytes_tx');
  w.u64(bytesRx, 'bytes_rx');
  w.u64(packetsTx, 'packets_tx');
  w.u64(packetsRx, 'packets_rx');
  w.string(ended ? (CLOSE_REASON_NAMES[closeReason] ?? '') : '');
  w.utf8Bytes(buf, errorStart, errorEnd);
  w.u16(ctx.retentionDays, 'retention_days');
  w.u64(seq, 'version');
}

function sameBytes(buf: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i += 1) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

function ipText(w: ByteWriter, buf: Uint8Array, start: number, length: number): void {
  if (length === 4) w.ipv4MappedText(buf, start);
  else if (length === 16) w.string(bytesToIpv6Text(buf.subarray(start, start + 16)));
  else w.string('::');
}

/**
 * Walk one NATS message and append its rows to `w` and their `session_id:version`
 * keys to `keys`. Undefined: not taken (nothing appended); run the reference path.
 */
export function decodeToRowBinary(
  subject: string,
  data: Uint8Array,
  w: ByteWriter,
  keys: string[],
  options: DecodeOptions,
): WireBatch | undefined {
  if (data.length > MAX_BATCH_BYTES) return undefined;
  const fromSubject = parseSessionsSubject(subject);
  if (fromSubject === undefined) return undefined;
  const { org, site } = fromSubject;
  const startOffset = w.offset;
  const startKeys = keys.length;
  try {
    const c: Cursor = { buf: data, pos: 0 };
    const end = data.length;
    const fields = readBatchFields(c, end, org, site);
    const agentChars = utf16Length(data, fields.agentStart, fields.agentEnd);
    if (
      agentChars === 0 ||
      agentChars > MAX_ID_CHARS ||
      fields.batchSeq < 1 ||
      fields.events === 0
    ) {
      giveUp();
    }
    const retentionDays = options.retentionFor(org);
    // 0 stores nothing (the consumer drops such batches); other odd values are left to
    // the reference path and its errors.
    if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 0xffff) {
      giveUp();
    }
    const ctx: BatchContext = {
      org,
      site,
      agentStart: fields.agentStart,
      agentEnd: fields.agentEnd,
      retentionDays,
      now: (options.now ?? Date.now)(),
    };
    // Second walk: the events (org, site and agent come after them on the wire).
    c.pos = 0;
    while (c.pos < end) {
      const tag = readTag(c, end);
      if (tag === ((4 << 3) | 2)) {
        const to = delimited(c, end);
        writeEvent(c, to, ctx, w, keys);
        c.pos = to;
      } else {
        skip(c, tag & 7, end);
      }
    }
    return {
      org,
      site,
      agentId: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString(
        'utf8',
        fields.agentStart,
        fields.agentEnd,
      ),
      batchSeq: fields.batchSeq,
      rowCount: fields.events,
    };
  } catch (err) {
    if (err !== GIVE_UP) throw err;
    w.rewind(startOffset);
    keys.length = startKeys;
    return undefined;
  }
}
