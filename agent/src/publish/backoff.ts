/**
 * Exponential backoff with jitter: attempt 0 waits about `baseMs`, each attempt doubles
 * up to `maxMs`; the wait is drawn uniformly from [half, full] so many agents retrying
 * after one outage do not reconnect in lockstep.
 */
export function backoffDelay(
  attempt: number,
  baseMs = 250,
  maxMs = 10_000,
  random: () => number = Math.random,
): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(full / 2 + (random() * full) / 2);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
