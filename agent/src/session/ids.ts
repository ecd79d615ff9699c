import { randomFillSync } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, a 12-bit counter in `rand_a`
 * (method 1 of RFC 9562 §6.2), variant 10, 62 random bits. Ids from one generator are
 * strictly increasing, also as text and when the clock steps back or more than 4096
 * ids are minted in one millisecond (the timestamp then runs slightly ahead).
 */
export class UuidV7Generator {
  private lastMs = -1;
  private counter = 0;
  private readonly pool = new Uint8Array(4096);
  private poolOffset = this.pool.length;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    const now = this.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      // Start the counter in its lower half so a burst in this millisecond has room.
      this.counter = this.randomByte() | ((this.randomByte() & 0x07) << 8);
    } else {
      this.counter += 1;
      if (this.counter > 0xfff) {
        this.lastMs += 1;
        this.counter = 0;
      }
    }
    // Formatted straight from the numbers (no byte array per id): bytes 0-5 are the
    // milliseconds, 6-7 version + counter, 8-15 variant + random.
    const ms = this.lastMs;
    const high = Math.floor(ms / 0x1_0000_0000); // top 16 of the 48 bits
    const low = ms >>> 0; // bottom 32 bits
    return (
      hex(high >>> 8) +
      hex(high) +
      hex(low >>> 24) +
      hex(low >>> 16) +
      '-' +
      hex(low >>> 8) +
      hex(low) +
      '-' +
      hex(0x70 | (this.counter >> 8)) +
      hex(this.counter) +
      '-' +
      hex(0x80 | (this.randomByte() & 0x3f)) +
      hex(this.randomByte()) +
      '-' +
      hex(this.randomByte()) +
      hex(this.randomByte()) +
      hex(this.randomByte()) +
      hex(this.randomByte()) +
      hex(this.randomByte()) +
      hex(this.randomByte())
    );
  }

  private randomByte(): number {
    if (this.poolOffset >= this.pool.length) {
      randomFillSync(this.pool);
      this.poolOffset = 0;
    }
    const byte = this.pool[this.poolOffset] ?? 0;
    this.poolOffset += 1;
    return byte;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Two hex digits of the low byte of `value`. */
function hex(value: number): string {
  return HEX[value & 0xff] ?? '00';
}

/** Milliseconds encoded in a UUIDv7 (for tests and diagnostics). */
export function uuidV7Time(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
