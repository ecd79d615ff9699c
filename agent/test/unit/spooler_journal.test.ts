import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@connlog/testkit';
import { CloseReason, EventKind } from '@connlog/proto';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClosedBatch } from '../../src/publish/batcher.js';
import { Spooler } from '../../src/publish/spooler.js';
import { journalEvent, OpenSessionsJournal } from '../../src/session/journal.js';
import { MemorySpool } from '../../src/spool/memory.js';
import type { SpooledBatch } from '../../src/spool/spool.js';
import { event, silentTelemetry } from './helpers.js';

/** A spool whose appends wait until `release()`: the moment a crash can hit. */
class GatedSpool extends MemorySpool {
  private gate: (() => void) | undefined;
  readonly appending: SpooledBatch[] = [];

  override async append(batch: SpooledBatch): Promise<boolean> {
    this.appending.push(batch);
    await new Promise<void>((resolve) => (this.gate = resolve));
    return super.append(batch);
  }

  release(): void {
    this.gate?.();
  }
}

describe('Spooler and the open-sessions journal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'connlog-agent-spooler-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps an ending session in the journal until its END is in the spool', async () => {
    const file = join(dir, 'open-sessions.json');
    const spool = new GatedSpool({ maxBytes: 1 << 20 });
    await spool.open();
    const journal = new OpenSessionsJournal(file);
    const spooler = new Spooler({
      spool,
      journal,
      telemetry: silentTelemetry(),
      onSpooled: () => undefined,
    });
    spooler.start();
    const start = event({ sessionId: 'a' });
    const end = event({
      sessionId: 'a',
      kind: EventKind.END,
      seq: 2,
      endedAtMs: start.startedAtMs + 5,
      closeReason: CloseReason.CLIENT_CLOSED,
      bytesTx: 3,
    });
    const batch = (batchSeq: number, last: typeof start): ClosedBatch => ({
      batchSeq,
      payload: Uint8Array.of(batchSeq),
      events: 1,
      journal: [journalEvent(last)],
    });
    spooler.push(batch(1, start));
    await waitFor(() => spool.appending.length === 1, 5000, 'the START batch appending');
    spool.release();
    spooler.push(batch(2, end));
    await waitFor(() => spool.appending.length === 2, 5000, 'the END batch appending');
    // The journal is on disk, the END is not in the spool yet: a crash here must
    // still end the session, with its real END.
    expect(new OpenSessionsJournal(file).load()).toEqual([end]);
    spool.release();
    await spooler.idle();
    expect(new OpenSessionsJournal(file).load()).toEqual([]);
    expect(spool.stats().batches).toBe(2);
    await spooler.stop();
  });
});
