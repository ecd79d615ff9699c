import { HEADER_BYTES } from './record.js';

const NAME = /^seg-(\d{20})\.log$/;

/** `seg-<firstSeq, 20 digits>.log`: names sort in seq order. */
export function segmentFileName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(20, '0')}.log`;
}

/** The first seq a segment file name claims, or `undefined` for other files. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = NAME.exec(name);
  if (!match?.[1]) return undefined;
  const seq = Number(match[1]);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/**
 * In-memory index of one segment file: seq, offset, payload length and acked flag per
 * record, in typed arrays (17 bytes per record, at most twice that while growing).
 * Payloads stay on disk.
 */
export class SegmentIndex {
  count = 0;
  ackedCount = 0;
  /** Header + payload bytes of the records not yet acknowledged. */
  unackedBytes = 0;
  /** Bytes in the file; for the segment being appended, where the next record goes. */
  size: number;
  private seqs = new Float64Array(16);
  private offsets = new Uint32Array(16);
  private lengths = new Uint32Array(16);
  private acked = new Uint8Array(16);

  constructor(
    readonly path: string,
    readonly name: string,
    size = 0,
  ) {
    this.size = size;
  }

  add(seq: number, offset: number, length: number, acked: boolean): void {
    if (this.count === this.seqs.length) this.grow();
    const i = this.count++;
    this.seqs[i] = seq;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.acked[i] = acked ? 1 : 0;
    if (acked) this.ackedCount++;
    else this.unackedBytes += HEADER_BYTES + length;
  }

  seqAt(i: number): number {
    return this.seqs[i] ?? 0;
  }

  offsetAt(i: number): number {
    return this.offsets[i] ?? 0;
  }

  lengthAt(i: number): number {
    return this.lengths[i] ?? 0;
  }

  isAcked(i: number): boolean {
    return this.acked[i] === 1;
  }

  get firstSeq(): number {
    return this.seqs[0] ?? 0;
  }

  get lastSeq(): number {
    return this.count === 0 ? 0 : this.seqAt(this.count - 1);
  }

  get fullyAcked(): boolean {
    return this.count > 0 && this.ackedCount === this.count;
  }

  /** Index of the first record with a seq above `seq` (`count` if none). */
  firstAfter(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqAt(mid) <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the record with exactly this seq, or -1. */
  find(seq: number): number {
    const i = this.firstAfter(seq - 1);
    return i < this.count && this.seqAt(i) === seq ? i : -1;
  }

  /** Mark record `i` acknowledged; returns the bytes released (0 if it already was). */
  markAcked(i: number): number {
    if (i < 0 || i >= this.count || this.acked[i] === 1) return 0;
    this.acked[i] = 1;
    this.ackedCount++;
    const bytes = HEADER_BYTES + this.lengthAt(i);
    this.unackedBytes -= bytes;
    return bytes;
  }

  private grow(): void {
    const n = this.seqs.length * 2;
    const seqs = new Float64Array(n);
    seqs.set(this.seqs);
    const offsets = new Uint32Array(n);
    offsets.set(this.offsets);
    const lengths = new Uint32Array(n);
    lengths.set(this.lengths);
    const acked = new Uint8Array(n);
    acked.set(this.acked);
    this.seqs = seqs;
    this.offsets = offsets;
    this.lengths = lengths;
    this.acked = acked;
  }
}
