import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode } from './errors.js';

/**
 * Replace `path` with `text` so a crash leaves either the old or the new content,
 * never a mix: write a temp file, then rename it over. `durable` also fsyncs the file
 * before the rename and the directory after it, so the new content survives power loss.
 */
export async function writeFileAtomic(path: string, text: string, durable: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (durable) await syncDir(dirname(path));
}

/**
 * Make created, renamed or deleted names in `dir` durable. Platforms that cannot fsync
 * a directory (Windows) get a no-op: there the rename itself is the best available.
 */
export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
  } catch (err) {
    if (errnoCode(err) === 'EISDIR' || errnoCode(err) === 'EPERM') return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'EPERM') throw err;
  } finally {
    await fh.close();
  }
}

/** The parsed JSON of `path`, or `undefined` when it does not exist. Throws if unreadable. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

/** Write all of `buffers` at `position`, finishing any short write. */
export async function writeFully(
  fh: FileHandle,
  buffers: readonly Uint8Array[],
  position: number,
): Promise<void> {
  const total = buffers.reduce((sum, b) => sum + b.length, 0);
  const { bytesWritten } = await fh.writev(buffers, position);
  if (bytesWritten === total) return;
  // Rare for regular files (signals, quotas): finish byte-exact from where it stopped.
  let rest = Buffer.concat(buffers).subarray(bytesWritten);
  let at = position + bytesWritten;
  while (rest.length > 0) {
    const { bytesWritten: n } = await fh.write(rest, 0, rest.length, at);
    if (n === 0) throw new Error(`short write at offset ${at}`);
    rest = rest.subarray(n);
    at += n;
  }
}

/** Read `length` bytes at `position`; fewer only if the file ends first. */
export async function readFully(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}
