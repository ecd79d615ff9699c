import { describe, expect, it } from 'vitest';
import { READ_SIZE, SMALL_READ, copyRead, sharedReadBuffer } from '../../src/proxy/read_blocks.js';

describe('copyRead', () => {
  it('copies a small read into a buffer of its own size, with nothing to give back', () => {
    sharedReadBuffer.write('hello', 0);
    const { chunk, done } = copyRead(5);
    expect(chunk.toString()).toBe('hello');
    // A pending write of 5 bytes must not pin a whole block.
    expect(chunk.buffer.byteLength).toBeLessThan(READ_SIZE);
    expect(done).toBeUndefined();
  });

  it('copies a large read into a pooled block that is reused once its write is done', () => {
    sharedReadBuffer.fill(7, 0, SMALL_READ);
    const first = copyRead(SMALL_READ);
    expect(first.chunk.length).toBe(SMALL_READ);
    expect(first.chunk.every((b) => b === 7)).toBe(true);
    expect(first.done).toBeTypeOf('function');
    first.done?.();
    sharedReadBuffer.fill(9, 0, READ_SIZE);
    const second = copyRead(READ_SIZE);
    expect(second.chunk.buffer).toBe(first.chunk.buffer);
    expect(second.chunk.every((b) => b === 9)).toBe(true);
    // Only after done() is the block reused: the earlier chunk's view now shows new bytes.
    expect(first.chunk.every((b) => b === 9)).toBe(true);
  });
});
