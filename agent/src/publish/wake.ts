/**
 * A level-triggered wake-up: `notify()` before `wait()` is not lost, so a loop that
 * checks its work and then waits never misses new work that arrived in between.
 */
export class Wake {
  private pending = false;
  private waiters: (() => void)[] = [];

  notify(): void {
    this.pending = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves on the next (or a missed) `notify()`, or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.pending = false;
        resolve();
      };
      this.waiters.push(done);
    });
  }
}
