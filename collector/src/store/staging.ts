/**
 * Staging files for the embedded engine's binary inserts. chDB takes no binary
 * payload through its API (its raw insert accepts text formats only), so a batch is
 * written as a RowBinary file and the engine reads it with
 * `INSERT … SELECT … FROM file(path, 'RowBinary', structure)`.
 *
 * Bounds and policies:
 * - one file per INSERT in flight, removed when that INSERT settles (also when it
 *   fails); the ingest loop inserts one batch at a time, so the directory holds at
 *   most one batch (`ingest.maxBatchRows` rows, ~150 B each);
 * - files a crashed process left behind are removed when the store opens (one process
 *   owns a data dir, so nothing else writes there);
 * - a directory whose path `file()` would read as a glob, or that cannot be spliced
 *   into SQL as is, is not used: the store then inserts as text (see `usable`).
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Characters `file()` reads as glob syntax, plus quote and backslash. */
const UNSAFE_PATH = /[*?{}[\]\\']/u;

export interface InsertStaging {
  readonly dir: string;
  /** Write `chunks` to a fresh file, run `use(path)`, remove the file however it went. */
  withFile<T>(chunks: readonly Uint8Array[], use: (path: string) => Promise<T>): Promise<T>;
}

/** Whether `dir` can be named in `file('…')` without escaping or glob expansion. */
export function usableStagingDir(dir: string): boolean {
  const path = resolve(dir);
  // Control characters (a newline in a data dir name...) are refused too.
  for (let i = 0; i < path.length; i += 1) if (path.charCodeAt(i) < 0x20) return false;
  return !UNSAFE_PATH.test(path);
}

/**
 * Create (or empty) the staging directory. Synchronous: it runs once, when the store
 * opens, before any insert could use the directory.
 */
export function openInsertStaging(dir: string): InsertStaging {
  const root = resolve(dir);
  if (!usableStagingDir(root)) {
    throw new RangeError(`staging directory ${root} has characters file() cannot take`);
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(root)) rmSync(join(root, name), { force: true, recursive: true });
  let next = 0;
  return {
    dir: root,
    async withFile(chunks, use) {
      next += 1;
      const path = join(root, `sessions-${String(next)}.rowbinary`);
      try {
        const file = await open(path, 'wx', 0o600);
        try {
          const { bytesWritten } = await file.writev([...chunks]);
          const expected = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
          if (bytesWritten !== expected) {
            throw new Error(
              `wrote ${String(bytesWritten)} of ${String(expected)} bytes to ${path}`,
            );
          }
        } finally {
          await file.close();
        }
        return await use(path);
      } finally {
        await rm(path, { force: true });
      }
    },
  };
}
