/**
 * Record layout of a segment file. Every record is a 20-byte header followed by the
 * payload (one encoded batch); all integers little-endian:
 *
 *   0  u32  magic "CLS1" (finds the next record after damage)
 *   4  u32  payload length
 *   8  u64  batchSeq (low word, then high word)
 *  16  u32  CRC-32 of bytes 4..16 and the payload
 *
 * The CRC covers length and seq too, so a damaged header is caught, not trusted.
 */
import { crc32 } from 'node:zlib';

export const HEADER_BYTES = 20;
/** Largest payload a record may carry; keeps every offset within 32 bits. */
export const MAX_PAYLOAD_BYTES = 2 ** 30;
const MAGIC = Buffer.from('CLS1', 'latin1');
const MAGIC_U32 = MAGIC.readUInt32LE(0);
const TWO_32 = 2 ** 32;

function checksum(header: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(header.subarray(4, 16)));
}

/** The header of a record holding `payload` under `batchSeq`. */
export function encodeHeader(batchSeq: number, payload: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32LE(MAGIC_U32, 0);
  header.writeUInt32LE(payload.length, 4);
  header.writeUInt32LE(batchSeq % TWO_32, 8);
  header.writeUInt32LE(Math.floor(batchSeq / TWO_32), 12);
  header.writeUInt32LE(checksum(header, payload), 16);
  return header;
}

/** Where one intact record sits in its segment. */
export interface RecordRef {
  seq: number;
  /** Offset of the header in the segment file. */
  offset: number;
  /** Payload length (the record takes `HEADER_BYTES + length` bytes). */
  length: number;
}

/**
 * The intact record whose header starts at `pos` in `buf`, or `undefined` when the
 * bytes there are short, damaged, or carry a seq not above `afterSeq` (records are
 * written in strictly increasing seq order, so anything else is not a real record).
 */
export function recordAt(buf: Buffer, pos: number, afterSeq: number): RecordRef | undefined {
  if (pos + HEADER_BYTES > buf.length) return undefined;
  if (buf.readUInt32LE(pos) !== MAGIC_U32) return undefined;
  const length = buf.readUInt32LE(pos + 4);
  if (length > MAX_PAYLOAD_BYTES || pos + HEADER_BYTES + length > buf.length) return undefined;
  const high = buf.readUInt32LE(pos + 12);
  const seq = high * TWO_32 + buf.readUInt32LE(pos + 8);
  if (!Number.isSafeInteger(seq) || seq <= afterSeq) return undefined;
  const header = buf.subarray(pos, pos + HEADER_BYTES);
  const payload = buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length);
  if (checksum(header, payload) !== buf.readUInt32LE(pos + 16)) return undefined;
  return { seq, offset: pos, length };
}

/** A span of bytes that holds no intact record. */
export interface Damage {
  offset: number;
  bytes: number;
  /** `tail`: nothing intact follows it in this buffer; `middle`: intact records follow. */
  at: 'tail' | 'middle';
}

export interface ScanResult {
  records: RecordRef[];
  damage: Damage[];
}

/**
 * Every intact record of a segment, in order. After damage the scan resyncs: it looks
 * for the next magic whose record is intact (CRC and all) and continues from there, so
 * one bad record costs that record only, not the rest of the segment.
 */
export function scanRecords(buf: Buffer, afterSeq: number): ScanResult {
  const records: RecordRef[] = [];
  const damage: Damage[] = [];
  let lastSeq = afterSeq;
  let pos = 0;
  while (pos < buf.length) {
    const record = recordAt(buf, pos, lastSeq);
    if (record) {
      records.push(record);
      lastSeq = record.seq;
      pos += HEADER_BYTES + record.length;
      continue;
    }
    const next = resync(buf, pos + 1, lastSeq);
    if (next === undefined) {
      damage.push({ offset: pos, bytes: buf.length - pos, at: 'tail' });
      break;
    }
    damage.push({ offset: pos, bytes: next - pos, at: 'middle' });
    pos = next;
  }
  return { records, damage };
}

function resync(buf: Buffer, from: number, afterSeq: number): number | undefined {
  for (let at = buf.indexOf(MAGIC, from); at >= 0; at = buf.indexOf(MAGIC, at + 1)) {
    if (recordAt(buf, at, afterSeq)) return at;
  }
  return undefined;
}
