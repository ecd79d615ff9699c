/**
 * A real process appends in a loop and is SIGKILLed: every append it saw resolve must
 * be in the spool afterwards. The child runs the spool sources transpiled to plain JS
 * (no build step needed), and prints each resolved seq on stdout.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@connlog/testkit';
import { newSpool, payloadFor, spoolDir } from './spool_helpers.js';

const SOURCES = fileURLToPath(new URL('../../src/spool/', import.meta.url));

function transpileSpool(into: string): void {
  mkdirSync(into, { recursive: true });
  for (const name of readdirSync(SOURCES).filter((n) => n.endsWith('.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(SOURCES, name), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: name,
    });
    writeFileSync(join(into, name.replace(/\.ts$/, '.js')), outputText);
  }
}

// Same payloads as payloadFor(seq, size) in spool_helpers.ts; batch 5k+1 acked.
const CHILD = `
import { DiskSpool } from './disk.js';
const [dir, fsync] = process.argv.slice(2);
const payloadFor = (seq, size) => {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (seq * 31 + i * 7) & 0xff;
  return buf;
};
const spool = new DiskSpool({ dir, fsync, fsyncIntervalMs: 20, segmentBytes: 64 * 1024 });
let { lastBatchSeq: seq } = await spool.open();
process.stdout.write('open ' + seq + '\\n');
for (;;) {
  seq++;
  if (!(await spool.append({ batchSeq: seq, payload: payloadFor(seq, 500 + (seq % 1500)) }))) {
    throw new Error('spool full');
  }
  process.stdout.write(seq + '\\n');
  if (seq % 5 === 1) await spool.ack(seq);
}
`;

interface ChildRun {
  opened: number;
  resolved: number[];
}

/** Run the child until it has printed `count` seqs, then SIGKILL it. */
async function appendUntilKilled(
  code: string,
  dir: string,
  fsync: string,
  count: number,
): Promise<ChildRun> {
  const child = spawn(process.execPath, [code, dir, fsync], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`child exited early: ${err}`);
        return out.split('\n').length > count + 1;
      },
      30_000,
      `${count} appends in the child`,
    );
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  // Only complete lines: a seq is resolved once its line was written out whole.
  const lines = out.split('\n').slice(0, -1);
  const [first, ...rest] = lines;
  return { opened: Number(first?.split(' ')[1]), resolved: rest.map(Number) };
}

describe('DiskSpool after SIGKILL', () => {
  for (const fsync of ['interval', 'never'] as const) {
    it(`keeps every resolved append (fsync ${fsync})`, async () => {
      const work = spoolDir();
      transpileSpool(join(work, 'spool'));
      const code = join(work, 'spool', 'child.mjs');
      writeFileSync(code, CHILD);
      const dir = join(work, 'data');

      const firstRun = await appendUntilKilled(code, dir, fsync, 400);
      expect(firstRun.opened).toBe(0);
      // A second life continues above every seq of the first, then dies the same way.
      const secondRun = await appendUntilKilled(code, dir, fsync, 200);
      const firstMax = Math.max(...firstRun.resolved);
      expect(secondRun.opened).toBeGreaterThanOrEqual(firstMax);
      expect(secondRun.resolved[0]).toBe(secondRun.opened + 1);

      const spool = newSpool({ dir });
      const opened = await spool.open();
      const resolved = [...firstRun.resolved, ...secondRun.resolved];
      expect(opened.lastBatchSeq).toBeGreaterThanOrEqual(Math.max(...resolved));
      const batches = await spool.readPending(0, 100_000);
      const found = new Set(batches.map((b) => b.batchSeq));
      const missing = resolved.filter((seq) => seq % 5 !== 1 && !found.has(seq));
      expect(missing).toEqual([]);
      for (const batch of batches) {
        expect(Buffer.from(batch.payload)).toEqual(
          payloadFor(batch.batchSeq, 500 + (batch.batchSeq % 1500)),
        );
      }
      expect(opened.pending).toBe(batches.length);
    }, 60_000);
  }
});
