/**
 * A local, always-current copy of a NATS KV bucket, kept by a KV watch. Retention
 * settings and API keys live in KV so every collector of a deployment sees the same
 * values; the hot paths (ingest per batch, auth per request) read this copy
 * synchronously and never wait on NATS.
 *
 * While NATS is unreachable the copy keeps its last known state; the watch is an
 * ordered consumer that resumes after a reconnect, and is opened again (from the
 * last revision seen) if it ever ends.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { Logger } from 'pino';

export type MirrorChangeSource = 'local' | 'watch';

export interface KvMirrorOptions<T> {
  kv: KV;
  /** Turns a stored value into `T`; throw to ignore a bad value (logged, key treated as absent). */
  parse: (key: string, entry: KvWatchEntry) => T;
  log: Logger;
  /** Names the bucket in logs. */
  what: string;
  /** Called after every applied change (`undefined` = the key was deleted). */
  onChange?: (key: string, value: T | undefined, source: MirrorChangeSource) => void;
  /**
   * Delay before a watch that ended or failed is opened again.
   * @default 1000
   */
  rewatchDelayMs?: number;
}

export interface KvMirror<T> {
  get(key: string): T | undefined;
  /** Present keys and their values. */
  entries(): [string, T][];
  readonly size: number;
  /**
   * Apply this collector's own write at once (read-your-writes), before the watch
   * delivers it. Changes apply in revision order, so a late older one is ignored.
   */
  update(key: string, value: T | undefined, revision: number): void;
  /** Resolves when the bucket's content at start-up is in the copy; rejects if it cannot be read. */
  readonly ready: Promise<void>;
  /** Stops the watch. Idempotent. */
  close(): Promise<void>;
}

interface Slot<T> {
  value: T | undefined;
  revision: number;
}

export function createKvMirror<T>(options: KvMirrorOptions<T>): KvMirror<T> {
  const { kv, parse, log, what } = options;
  const rewatchDelayMs = options.rewatchDelayMs ?? 1000;
  // Deleted keys keep a slot (value undefined) so an older write arriving late
  // cannot resurrect them.
  const slots = new Map<string, Slot<T>>();
  let size = 0;
  let closed = false;
  let stopWatch: (() => void) | undefined;
  let lastRevision = 0;
  let isReady = false;
  let markReady: () => void = () => undefined;
  let failReady: (err: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  // The creator awaits `ready`; this keeps a failure nobody awaits from being
  // reported as an unhandled rejection.
  ready.catch(() => undefined);
  const setReady = (): void => {
    if (isReady) return;
    isReady = true;
    markReady();
  };

  const set = (
    key: string,
    value: T | undefined,
    revision: number,
    source: MirrorChangeSource,
  ): void => {
    const slot = slots.get(key);
    if (slot && slot.revision >= revision) return;
    size += (value !== undefined ? 1 : 0) - (slot?.value !== undefined ? 1 : 0);
    slots.set(key, { value, revision });
    options.onChange?.(key, value, source);
  };

  const apply = (entry: KvWatchEntry): void => {
    lastRevision = Math.max(lastRevision, entry.revision);
    let value: T | undefined;
    if (entry.operation === 'PUT') {
      try {
        value = parse(entry.key, entry);
      } catch (err) {
        log.warn({ err, bucket: what, key: entry.key }, 'ignoring a bad KV value');
      }
    }
    set(entry.key, value, entry.revision, 'watch');
  };

  const watchOnce = async (): Promise<void> => {
    // The newest message of a KV stream is the last value of its key, and a
    // last-value watch always delivers it: once an entry at or past that revision
    // has arrived, everything that existed at start-up has been applied.
    const state = (await kv.status()).streamInfo.state;
    const target = state.last_seq;
    const watch = await kv.watch(lastRevision > 0 ? { resumeFromRevision: lastRevision + 1 } : {});
    stopWatch = () => watch.stop();
    if (closed) watch.stop();
    if (state.messages === 0 || lastRevision >= target) setReady();
    for await (const entry of watch) {
      apply(entry);
      if (entry.revision >= target) setReady();
    }
  };

  const run = async (): Promise<void> => {
    while (!closed) {
      try {
        await watchOnce();
        if (!closed) log.warn({ bucket: what }, 'KV watch ended; watching again');
      } catch (err) {
        if (closed) return;
        if (!isReady) {
          failReady(err);
          return;
        }
        log.warn({ err, bucket: what }, 'KV watch failed; watching again');
      }
      if (closed) return;
      await new Promise((resolve) => setTimeout(resolve, rewatchDelayMs).unref());
    }
  };
  void run();

  return {
    get: (key) => slots.get(key)?.value,
    entries: () => {
      const out: [string, T][] = [];
      for (const [key, slot] of slots) if (slot.value !== undefined) out.push([key, slot.value]);
      return out;
    },
    get size() {
      return size;
    },
    update: (key, value, revision) => set(key, value, revision, 'local'),
    ready,
    close: () => {
      if (!closed) {
        closed = true;
        stopWatch?.();
      }
      return Promise.resolve();
    },
  };
}
