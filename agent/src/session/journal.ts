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
 * spool and that may still need an `END` after a crash. It is rewritten (tmp file +
 * rename, so it is never torn) before each round of spool appends, from the batches of
 * that round, so it never lags behind the spool: after a crash, each open session in it
 * gets an `END` with close reason `agent_restart`.
 *
 * A session whose `END` is in the round keeps that `END` as its entry until the round is
 * appended (`settle()`), and the file is rewritten once the spooler is idle. If the agent
 * dies in between, the restart sends that very `END` again — same `seq`, same counters,
 * same close reason — so whether or not the first copy reached the spool, the table ends
 * with the one true `END` (a repeat is an identical version). Dropping the session from
 * the file *before* its `END` was appended would leave it `ongoing` forever.
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

  /**
   * Follow the last event of each session of a batch about to be spooled (`null` drops
   * the session). An `END` is kept until `settle()`.
   */
  apply(changes: ReadonlyMap<string, SessionEvent | null>): void {
    for (const [sessionId, event] of changes) {
      if (event === null) this.sessions.delete(sessionId);
      else this.sessions.set(sessionId, event);
      this.dirty = true;
    }
  }

  /** A batch is in the spool: the sessions it ended need nothing after a crash. */
  settle(changes: ReadonlyMap<string, SessionEvent | null>): void {
    for (const [sessionId, event] of changes) {
      if (event?.kind !== EventKind.END || this.sessions.get(sessionId) !== event) continue;
      this.sessions.delete(sessionId);
      this.dirty = true;
    }
  }

  /** Changed since the last write. */
  get needsWrite(): boolean {
    return this.dirty;
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
