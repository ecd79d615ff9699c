import { readdirSync } from 'node:fs';
import { tempDir } from '@connlog/testkit';
import { afterEach } from 'vitest';
import { DiskSpool } from '../../src/spool/disk.js';
import type { DiskSpoolOptions } from '../../src/spool/options.js';

/** A payload whose bytes depend on `seq`, so a mixed-up or damaged batch is caught. */
export function payloadFor(seq: number, size = 100): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (seq * 31 + i * 7) & 0xff;
  return buf;
}

export async function appendRange(
  spool: DiskSpool,
  from: number,
  to: number,
  size = 100,
): Promise<void> {
  for (let seq = from; seq <= to; seq++) {
    const ok = await spool.append({ batchSeq: seq, payload: payloadFor(seq, size) });
    if (!ok) throw new Error(`append ${seq} refused`);
  }
}

export function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith('seg-'))
    .sort();
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh spool directory, removed after the test. */
export function spoolDir(): string {
  const dir = tempDir('spool');
  cleanups.push(() => dir.remove());
  return dir.path;
}

/** A spool in `dir` (a fresh one by default), closed after the test. */
export function newSpool(options: Partial<DiskSpoolOptions> = {}): DiskSpool {
  const spool = new DiskSpool({ dir: options.dir ?? spoolDir(), fsync: 'never', ...options });
  cleanups.push(() => spool.close().catch(() => undefined));
  return spool;
}
