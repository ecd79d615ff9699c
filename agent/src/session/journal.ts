import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import {
  decodeSessionEvent,
  encodeSessionEvent,
  EventKind,
  type SessionEvent,
} from '@connlog/proto';

/**
 * Version 2 lists each event as base64 of its protobuf `SessionEvent` (the bytes the
 * batcher encoded for the spool anyway); version 1, still read, listed JSON objects.
 */
const VERSION = 2;

interface JournalFile {
  version: number;
  sessions: unknown[];
}

/** Version 1 entry: the event as JSON, IP addresses in base64. */
type JournalEntryV1 = Omit<SessionEvent, 'sourceIp' | 'destIp'> & {
  sourceIp: string;
  destIp: string;
};

/** A session's event as the journal follows it: encoded once, by the batcher. */
export interface JournalEvent {
  readonly sessionId: string;
  /** The event is the session's `END`. */
  readonly end: boolean;
  /**
   * `encodeSessionEvent(event)` until the first write that lists the event turns it
   * into `text`; then empty. The bytes are a view into a shared allocation pool, and
   * the entry of a long-lived session must not keep a whole pool chunk alive.
   */
  encoded: Uint8Array;
  /** Its base64 text in the file, made by the first write that lists it. */
  text: string | undefined;
}

const NO_BYTES = new Uint8Array(0);

/** The journal's view of an event (encodes it; the batcher reuses its own encoding). */
export function journalEvent(
  event: SessionEvent,
  encoded = encodeSessionEvent(event),
): JournalEvent {
  return {
    sessionId: event.sessionId,
    end: event.kind === EventKind.END,
    encoded,
    text: undefined,
  };
}

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
  private readonly sessions = new Map<string, JournalEvent>();
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
    if ((parsed.version !== 1 && parsed.version !== VERSION) || !Array.isArray(parsed.sessions)) {
      throw new Error(`unexpected journal format (version ${String(parsed.version)})`);
    }
    const events =
      parsed.version === 1 ? parsed.sessions.map(fromEntryV1) : parsed.sessions.map(fromText);
    for (const event of events) this.sessions.set(event.sessionId, journalEvent(event));
    return events;
  }

  /** Move an unreadable journal aside (kept for inspection); returns its new path. */
  quarantine(): string {
    const target = `${this.file}.corrupt-${Date.now()}`;
    renameSync(this.file, target);
    return target;
  }

  /**
   * Follow the events of a batch about to be spooled, in order: each becomes its
   * session's entry. An `END` is kept until `settle()`.
   */
  apply(events: readonly JournalEvent[]): void {
    if (events.length === 0) return;
    for (const event of events) this.sessions.set(event.sessionId, event);
    this.dirty = true;
  }

  /** A batch is in the spool: the sessions it ended need nothing after a crash. */
  settle(events: readonly JournalEvent[]): void {
    for (const event of events) {
      if (!event.end || this.sessions.get(event.sessionId) !== event) continue;
      this.sessions.delete(event.sessionId);
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
    // Each event is turned into text once, however many writes list it.
    const texts: string[] = [];
    for (const event of this.sessions.values()) {
      if (event.text === undefined) {
        const { buffer, byteOffset, byteLength } = event.encoded;
        event.text = Buffer.from(buffer, byteOffset, byteLength).toString('base64');
        event.encoded = NO_BYTES;
      }
      texts.push(event.text);
    }
    const body = `{"version":${VERSION},"sessions":[${texts.length === 0 ? '' : `"${texts.join('","')}"`}]}`;
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, body);
      await rename(tmp, this.file);
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }
}

function fromEntryV1(entry: unknown): SessionEvent {
  const e = entry as JournalEntryV1;
  if (typeof e.sessionId !== 'string' || typeof e.seq !== 'number') {
    throw new Error('journal entry without sessionId or seq');
  }
  return {
    ...e,
    sourceIp: new Uint8Array(Buffer.from(e.sourceIp, 'base64')),
    destIp: new Uint8Array(Buffer.from(e.destIp, 'base64')),
  };
}

function fromText(entry: unknown): SessionEvent {
  if (typeof entry !== 'string') throw new Error('journal entry is not a base64 string');
  const event = decodeSessionEvent(Buffer.from(entry, 'base64'));
  if (event.sessionId === '' || event.seq === 0) {
    throw new Error('journal entry without sessionId or seq');
  }
  return event;
}
