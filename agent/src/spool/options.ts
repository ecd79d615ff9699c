import type { Logger } from 'pino';
import { SpoolError } from './errors.js';
import { MAX_PAYLOAD_BYTES } from './record.js';

export type FsyncMode = 'always' | 'interval' | 'never';

export interface DiskSpoolOptions {
  /** Directory of the segment files and the spool's state files (created if missing). */
  dir: string;
  /**
   * Bound of unacknowledged data (record headers + payloads) held on disk. An append
   * that would exceed it resolves `false` without writing.
   * @default 1073741824 (1 GiB)
   */
  maxBytes?: number;
  /**
   * A segment file is closed and a new one started once the next record would make it
   * larger than this; a single larger record gets a segment of its own. At most 1 GiB:
   * recovery reads one segment at a time into memory.
   * @default 16777216 (16 MiB)
   */
  segmentBytes?: number;
  /**
   * When appended records are forced to stable storage: `always` before `append`
   * resolves, `interval` at most every `fsyncIntervalMs`, `never` left to the OS.
   * Loss windows per mode are in docs/spool.md.
   * @default "interval"
   */
  fsync?: FsyncMode;
  /**
   * Period of the `interval` fsync, and the delay before acknowledgements are written
   * to the ack state file (in every mode).
   * @default 1000
   */
  fsyncIntervalMs?: number;
  /** Logger for recovery findings and I/O failures; silent when absent. */
  log?: Logger;
}

export interface ResolvedSpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly fsync: FsyncMode;
  readonly fsyncIntervalMs: number;
}

export const SPOOL_DEFAULTS = {
  maxBytes: 1024 ** 3,
  segmentBytes: 16 * 1024 ** 2,
  fsync: 'interval',
  fsyncIntervalMs: 1000,
} as const;

const FSYNC_MODES: readonly FsyncMode[] = ['always', 'interval', 'never'];

function invalid(key: string, rule: string, value: unknown): SpoolError {
  return new SpoolError(
    'SPOOL_OPTION_INVALID',
    `spool option "${key}" ${rule} (got ${JSON.stringify(value) ?? String(value)})`,
  );
}

function integer(key: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(key, `must be an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** Apply defaults and reject bad values with an error naming the option. */
export function resolveSpoolOptions(options: DiskSpoolOptions): ResolvedSpoolOptions {
  const { dir, fsync } = options as Partial<DiskSpoolOptions>;
  if (typeof dir !== 'string' || dir === '') throw invalid('dir', 'must be a non-empty path', dir);
  if (fsync !== undefined && !FSYNC_MODES.includes(fsync)) {
    throw invalid('fsync', `must be one of ${FSYNC_MODES.join(', ')}`, fsync);
  }
  return Object.freeze({
    dir,
    maxBytes: integer('maxBytes', options.maxBytes, SPOOL_DEFAULTS.maxBytes, 1, 2 ** 50),
    segmentBytes: integer(
      'segmentBytes',
      options.segmentBytes,
      SPOOL_DEFAULTS.segmentBytes,
      1,
      MAX_PAYLOAD_BYTES,
    ),
    fsync: fsync ?? SPOOL_DEFAULTS.fsync,
    fsyncIntervalMs: integer(
      'fsyncIntervalMs',
      options.fsyncIntervalMs,
      SPOOL_DEFAULTS.fsyncIntervalMs,
      1,
      3_600_000,
    ),
  });
}
