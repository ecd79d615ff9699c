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
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Characters `file()` reads as glob syntax, plus quote, backslash and controls. */
const UNSAFE_PATH = /[*?{}[\]\\'\u0000-\u001f]/u;

export interface InsertStaging {
  readonly dir: string;
  /** Write `bytes` to a fresh file, run `use(path)`, remove the file however it went. */
  withFile<T>(bytes: Uint8Array, use: (path: string) => Promise<T>): Promise<T>;
}

/** Whether `dir` can be named in `file('…')` without escaping or glob expansion. */
export function usableStagingDir(dir: string): boolean {
  return !UNSAFE_PATH.test(resolve(dir));
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
    async withFile(bytes, use) {
      next += 1;
      const path = join(root, `sessions-${String(next)}.rowbinary`);
      try {
        await writeFile(path, bytes, { mode: 0o600 });
        return await use(path);
      } finally {
        await rm(path, { force: true });
      }
    },
  };
}
