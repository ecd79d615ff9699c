import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { EventKind, type SessionEvent } from '@connlog/proto';

const VERSION = 1;

interface JournalFile {
  version: number;
  sessions: JournalEntry[];
}

type JournalEntry = Omit<SessionEvent, 'sourceIp' | 'destIp'> & {
  sourceIp: string;
  destIp: string;
};

/**
 * `open-sessions.json`: the last event of every session whose events reached the
 * spool without its `END`. It is rewritten (tmp file + rename, so it is never torn)
 * before each round of spool appends, from the batches of that round, so it follows
 * exactly what the spool holds: after a crash, each session in it gets an `END` with
 * close reason `agent_restart`, and a session whose `END` is spooled is never in it.
 */
export class OpenSessionsJournal {
  private readonly sessions = new Map<string, SessionEvent>();
  private dirty = false;

  constructor(readonly file: string) {}

  /**
   * Read what a previous run left (empty when there is no file). Throws when the file
   * exists but cannot be parsed; `quarantine()` then moves it aside.
   */
  load(): SessionEvent[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<JournalFile>;
    if (parsed.version !== VERSION || !Array.isArray(parsed.sessions)) {
      throw new Error(`unexpected journal format (version ${String(parsed.version)})`);
    }
    const events = parsed.sessions.map(fromEntry);
    for (const event of events) this.sessions.set(event.sessionId, event);
    return events;
  }

  /** Move an unreadable journal aside (kept for inspection); returns its new path. */
  quarantine(): string {
    const target = `${this.file}.corrupt-${Date.now()}`;
    renameSync(this.file, target);
    return target;
  }

  /** Follow the last event of each session of a batch about to be spooled. */
  apply(changes: ReadonlyMap<string, SessionEvent | null>): void {
    for (const [sessionId, event] of changes) {
      if (event === null || event.kind === EventKind.END) this.sessions.delete(sessionId);
      else this.sessions.set(sessionId, event);
      this.dirty = true;
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Write the file if anything changed since the last write. */
  async persist(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const body: JournalFile = {
      version: VERSION,
      sessions: [...this.sessions.values()].map(toEntry),
    };
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(body));
      await rename(tmp, this.file);
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }
}

function toEntry(event: SessionEvent): JournalEntry {
  return {
    ...event,
    sourceIp: Buffer.from(event.sourceIp).toString('base64'),
    destIp: Buffer.from(event.destIp).toString('base64'),
  };
}

function fromEntry(entry: JournalEntry): SessionEvent {
  if (typeof entry.sessionId !== 'string' || typeof entry.seq !== 'number') {
    throw new Error('journal entry without sessionId or seq');
  }
  return {
    ...entry,
    sourceIp: new Uint8Array(Buffer.from(entry.sourceIp, 'base64')),
    destIp: new Uint8Array(Buffer.from(entry.destIp, 'base64')),
  };
}
