/**
 * Buffers for reading target sockets without allocating per read.
 *
 * Node allocates a fresh Buffer for every socket read (64 KiB at full speed). V8 counts
 * those bytes as external memory allocated since the last Mark-Compact and adds them to
 * the old generation's size when it decides whether to start a major GC; the buffers
 * die young, but a scavenge only runs after ~32 MiB of them, while the old-generation
 * limit leaves the agent (heap above V8's 8 MB incremental-marking threshold) only
 * ~8 MiB of headroom. So a busy connection costs a full mark of the heap every few
 * megabytes. Target sockets are dialled by us, so they can read into memory we own
 * (`net.connect({ onread })`): every target socket reads into the one shared buffer,
 * which is safe because reads are delivered one at a time on this thread and each chunk
 * is copied out before the callback returns.
 *
 * The copy goes into a block from a free list: the write toward the client may hold
 * its buffer until the kernel takes it, so a block goes back on the list only when its
 * write has completed. Blocks in flight are bounded by backpressure (a connection stops
 * reading when its client's write buffer is full); the free list keeps at most
 * `MAX_FREE_BLOCKS` (policy when full: the returned block is dropped and left to GC).
 * Backpressure counts the bytes written, not the block holding them, so a small read
 * gets an exact-size copy instead: a target trickling 1-byte reads to a slow client
 * would otherwise pin a 64 KiB block per byte in flight. Above `SMALL_READ` a block
 * holds at most 4 × its bytes.
 */

/** libuv's read size for a stream; a read never returns more. */
export const READ_SIZE = 64 * 1024;
/** 2 MiB kept for reuse at most. */
export const MAX_FREE_BLOCKS = 32;

/** Reads below this size are copied into an exact-size Buffer rather than a block. */
export const SMALL_READ = READ_SIZE / 4;

/** Shared by every target socket: only ever read from inside the read callback. */
export const sharedReadBuffer: Buffer = Buffer.allocUnsafeSlow(READ_SIZE);

const free: Buffer[] = [];

/**
 * A copy of the first `n` bytes of the shared buffer that a pending write may keep, and
 * what to call once that write has completed (or failed).
 */
export function copyRead(n: number): { chunk: Buffer; done: (() => void) | undefined } {
  if (n < SMALL_READ) {
    const chunk = Buffer.allocUnsafe(n);
    sharedReadBuffer.copy(chunk, 0, 0, n);
    return { chunk, done: undefined };
  }
  const block = free.pop() ?? Buffer.allocUnsafeSlow(READ_SIZE);
  sharedReadBuffer.copy(block, 0, 0, n);
  return { chunk: block.subarray(0, n), done: () => giveBlock(block) };
}

/** Give back a block whose write has completed (or failed). */
function giveBlock(block: Buffer): void {
  if (free.length < MAX_FREE_BLOCKS) free.push(block);
}
