/**
 * A growable little-endian byte buffer for RowBinary payloads: one per INSERT, written
 * by the row encoder (row_binary.ts) and by the ingest path's wire reader
 * (ingest/wire_rows.ts), which copies text straight from protobuf bytes.
 */
import { CollectorError } from '../errors.js';

const TWO_POW_32 = 4_294_967_296;
/** Below this many bytes a loop copies faster than `subarray` + `set` (measured). */
const SHORT_COPY = 48;

export class ByteWriter {
  private buf: Buffer;
  offset = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  /** Room for `bytes` more bytes. Public so a caller can reserve a whole row at once. */
  ensure(bytes: number): void {
    if (this.offset + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + bytes));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  /** Drop what was written after `offset` (a message that turned out not to be ours). */
  rewind(offset: number): void {
    this.offset = offset;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.offset] = value;
    this.offset += 1;
  }

  u16(value: number, column: string): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) notEncodable(column, value);
    this.ensure(2);
    const buf = this.buf;
    const at = this.offset;
    buf[at] = value & 0xff;
    buf[at + 1] = value >>> 8;
    this.offset = at + 2;
  }

  /**
   * UInt64 and Int64 (DateTime64 ticks) of a non-negative safe integer. Bytes are set
   * one by one: Buffer#writeUInt32LE's checks cost more than the write (profiled).
   */
  u64(value: number, column: string): void {
    if (!Number.isSafeInteger(value) || value < 0) notEncodable(column, value);
    this.ensure(8);
    const buf = this.buf;
    const at = this.offset;
    const low = value % TWO_POW_32;
    const high = (value - low) / TWO_POW_32;
    buf[at] = low & 0xff;
    buf[at + 1] = (low >>> 8) & 0xff;
    buf[at + 2] = (low >>> 16) & 0xff;
    buf[at + 3] = low >>> 24;
    buf[at + 4] = high & 0xff;
    buf[at + 5] = (high >>> 8) & 0xff;
    buf[at + 6] = (high >>> 16) & 0xff;
    buf[at + 7] = high >>> 24;
    this.offset = at + 8;
  }

  /** String: LEB128 byte length, then UTF-8. ASCII (nearly all values) is copied inline. */
  string(value: string): void {
    const length = value.length;
    this.ensure(length * 3 + 5);
    const buf = this.buf;
    if (length < 0x80) {
      let at = this.offset + 1;
      let ascii = true;
      for (let i = 0; i < length; i += 1) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) {
          ascii = false;
          break;
        }
        buf[at] = code;
        at += 1;
      }
      if (ascii) {
        buf[this.offset] = length;
        this.offset = at;
        return;
      }
    }
    this.leb(Buffer.byteLength(value, 'utf8'));
    this.offset += buf.write(value, this.offset, 'utf8');
  }

  /** String from UTF-8 bytes already known to be well formed: `src[start, end)` as is. */
  utf8Bytes(src: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.ensure(length + 5);
    this.leb(length);
    const buf = this.buf;
    let at = this.offset;
    if (length < SHORT_COPY) {
      for (let i = start; i < end; i += 1) {
        buf[at] = src[i] ?? 0;
        at += 1;
      }
      this.offset = at;
      return;
    }
    buf.set(src.subarray(start, end), at);
    this.offset = at + length;
  }

  /** String from ASCII bytes, upper-case letters lowered (UUIDs: stored lower-case). */
  lowerAscii(src: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.ensure(length + 5);
    this.leb(length);
    const buf = this.buf;
    let at = this.offset;
    for (let i = start; i < end; i += 1) {
      const c = src[i] ?? 0;
      buf[at] = c >= 65 && c <= 90 ? c + 32 : c;
      at += 1;
    }
    this.offset = at;
  }

  /** The IPv4 address `src[at, at + 4)` as IPv4-mapped IPv6 text (`::ffff:1.2.3.4`). */
  ipv4MappedText(src: Uint8Array, at: number): void {
    const a = src[at] ?? 0;
    const b = src[at + 1] ?? 0;
    const c = src[at + 2] ?? 0;
    const d = src[at + 3] ?? 0;
    const length = 10 + digits(a) + digits(b) + digits(c) + digits(d);
    this.ensure(length + 1);
    const buf = this.buf;
    let o = this.offset;
    buf[o] = length;
    // '::ffff:'
    buf[o + 1] = 58;
    buf[o + 2] = 58;
    buf[o + 3] = 102;
    buf[o + 4] = 102;
    buf[o + 5] = 102;
    buf[o + 6] = 102;
    buf[o + 7] = 58;
    o = decimal(buf, o + 8, a);
    buf[o] = 46;
    o = decimal(buf, o + 1, b);
    buf[o] = 46;
    o = decimal(buf, o + 1, c);
    buf[o] = 46;
    this.offset = decimal(buf, o + 1, d);
  }

  /** The bytes `[from, to)` as Latin-1 text (ASCII keys of rows just written). */
  latin1(from: number, to: number): string {
    return this.buf.toString('latin1', from, to);
  }

  done(): Buffer {
    return this.buf.subarray(0, this.offset);
  }

  private leb(value: number): void {
    const buf = this.buf;
    let rest = value;
    while (rest >= 0x80) {
      buf[this.offset] = (rest & 0x7f) | 0x80;
      this.offset += 1;
      rest >>>= 7;
    }
    buf[this.offset] = rest;
    this.offset += 1;
  }
}

function digits(octet: number): number {
  return octet < 10 ? 1 : octet < 100 ? 2 : 3;
}

/** `octet` in decimal at `at`; returns the offset after it. */
function decimal(buf: Buffer, at: number, octet: number): number {
  if (octet >= 100) {
    buf[at] = 48 + Math.floor(octet / 100);
    buf[at + 1] = 48 + (Math.floor(octet / 10) % 10);
    buf[at + 2] = 48 + (octet % 10);
    return at + 3;
  }
  if (octet >= 10) {
    buf[at] = 48 + Math.floor(octet / 10);
    buf[at + 1] = 48 + (octet % 10);
    return at + 2;
  }
  buf[at] = 48 + octet;
  return at + 1;
}

function notEncodable(column: string, value: unknown): never {
  throw new CollectorError(
    'STORE_INSERT',
    `sessions.${column} ${String(value)} does not fit the column (want a non-negative integer in range)`,
  );
}
