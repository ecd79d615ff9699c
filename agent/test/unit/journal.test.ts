import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventKind } from '@connlog/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { journalEvent, OpenSessionsJournal } from '../../src/session/journal.js';
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
    const bEnd = journalEvent(event({ sessionId: 'b', kind: EventKind.END, seq: 2 }));
    journal.apply([journalEvent(a), journalEvent(b)]);
    journal.apply([journalEvent(aUpdate), bEnd]);
    journal.settle([bEnd]);
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
    const startEntry = journalEvent(start);
    const endEntry = journalEvent(end);
    journal.apply([startEntry]);
    journal.apply([endEntry]);
    await journal.persist();
    // Written before the END's batch is appended: a crash now sends this END again.
    expect(new OpenSessionsJournal(file).load()).toEqual([end]);
    journal.settle([startEntry]);
    expect(journal.needsWrite).toBe(false);
    journal.settle([endEntry]);
    expect(journal.needsWrite).toBe(true);
    await journal.persist();
    expect(new OpenSessionsJournal(file).load()).toEqual([]);
  });

  it('keeps only the text of a written entry, and writes it again unchanged', async () => {
    const file = join(dir, 'text.json');
    const journal = new OpenSessionsJournal(file);
    const open = event({ sessionId: 'long', kind: EventKind.UPDATE, seq: 7, bytesTx: 99 });
    const entry = journalEvent(open);
    journal.apply([entry]);
    await journal.persist();
    // The pooled bytes are let go once the text exists (a long session keeps its entry).
    expect(entry.encoded).toHaveLength(0);
    expect(entry.text).toBeDefined();
    const other = journalEvent(event({ sessionId: 'short' }));
    journal.apply([other]);
    await journal.persist();
    expect(new OpenSessionsJournal(file).load()).toEqual([
      open,
      expect.objectContaining({ sessionId: 'short' }),
    ]);
  });

  it('reads a version 1 file (JSON events) left by an older agent', () => {
    const file = join(dir, 'v1.json');
    const open = event({ sessionId: 'v1', kind: EventKind.UPDATE, seq: 4, bytesRx: 12 });
    const entry = {
      ...open,
      sourceIp: Buffer.from(open.sourceIp).toString('base64'),
      destIp: Buffer.from(open.destIp).toString('base64'),
    };
    writeFileSync(file, JSON.stringify({ version: 1, sessions: [entry] }));
    expect(new OpenSessionsJournal(file).load()).toEqual([open]);
  });

  it('refuses an entry that is not an event', () => {
    const file = join(dir, 'bad-entry.json');
    writeFileSync(file, JSON.stringify({ version: 2, sessions: [42] }));
    expect(() => new OpenSessionsJournal(file).load()).toThrow(/not a base64 string/);
    writeFileSync(file, JSON.stringify({ version: 2, sessions: [''] }));
    expect(() => new OpenSessionsJournal(file).load()).toThrow(/without sessionId/);
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
