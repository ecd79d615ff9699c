import { CollectorError } from '../errors.js';

/**
 * A FIFO lock with a bounded wait queue. Used where the engine allows one thing at a
 * time (one chDB stream per connection). When `maxWaiters` callers already wait, the
 * next one is refused with `STORE_BUSY` instead of queueing without bound.
 */
export class Mutex {
  private locked = false;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly what: string,
    private readonly maxWaiters = Infinity,
  ) {}

  /** Resolves with a release function; an aborted waiter leaves the queue. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (!this.locked) {
      this.locked = true;
      return this.releaser();
    }
    if (this.waiters.length >= this.maxWaiters) {
      throw new CollectorError(
        'STORE_BUSY',
        `${this.what}: ${this.waiters.length} callers already waiting, try again later`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const index = this.waiters.indexOf(wake);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new CollectorError('STORE_ABORTED', `${this.what}: cancelled while waiting`));
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.releaser();
  }

  async run<T>(fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.locked = false;
    };
  }
}
