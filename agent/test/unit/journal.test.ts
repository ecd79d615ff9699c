import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventKind } from '@connlog/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { OpenSessionsJournal } from '../../src/session/journal.js';
import { event } from './helpers.js';

describe('OpenSessionsJournal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'connlog-agent-journal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('persists the last event of open sessions and drops ended ones', async () => {
    const file = join(dir, 'open-sessions.json');
    const journal = new OpenSessionsJournal(file);
    expect(journal.load()).toEqual([]);
    const a = event({ sessionId: 'a' });
    const aUpdate = event({ sessionId: 'a', kind: EventKind.UPDATE, seq: 2, bytesTx: 5 });
    const b = event({ sessionId: 'b' });
    journal.apply(
      new Map([
        ['a', a],
        ['b', b],
      ]),
    );
    journal.apply(
      new Map([
        ['a', aUpdate],
        ['b', null],
      ]),
    );
    await journal.persist();
    expect(readdirSync(dir)).toEqual(['open-sessions.json']);
    const reread = new OpenSessionsJournal(file).load();
    expect(reread).toEqual([aUpdate]);
  });

  it('keeps an END until its batch is settled in the spool', async () => {
    const file = join(dir, 'settle.json');
    const journal = new OpenSessionsJournal(file);
    const start = event({ sessionId: 'c' });
    const end = event({ sessionId: 'c', kind: EventKind.END, seq: 2, bytesTx: 9 });
    journal.apply(new Map([['c', start]]));
    journal.apply(new Map([['c', end]]));
    await journal.persist();
    // Written before the END's batch is appended: a crash now sends this END again.
    expect(new OpenSessionsJournal(file).load()).toEqual([end]);
    journal.settle(new Map([['c', start]]));
    expect(journal.needsWrite).toBe(false);
    journal.settle(new Map([['c', end]]));
    expect(journal.needsWrite).toBe(true);
    await journal.persist();
    expect(new OpenSessionsJournal(file).load()).toEqual([]);
  });

  it('moves an unreadable file aside', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"version":1,"sess');
    const journal = new OpenSessionsJournal(file);
    expect(() => journal.load()).toThrow();
    const moved = journal.quarantine();
    expect(existsSync(file)).toBe(false);
    expect(existsSync(moved)).toBe(true);
  });
});
