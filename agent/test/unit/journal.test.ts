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
