import { EventKind, type SessionEvent } from '@connlog/proto';
import type { EventSink } from '../session/recorder.js';
import type { FromWorker } from './messages.js';

/** Events per IPC message at most; a busier tick sends several. */
export const MAX_EVENTS_PER_MESSAGE = 1000;
/**
 * Messages sent and not yet written to the channel. At this bound the worker behaves as
 * the agent's batcher does at its own: new sessions go unrecorded (counted), `UPDATE`s
 * are skipped, `END`s are always sent (at most one per recorded session).
 */
export const MAX_MESSAGES_IN_FLIGHT = 64;

export type SendMessage = (message: FromWorker, done: () => void) => void;

/**
 * A worker's recorder writes here instead of to a batcher: events are collected for
 * the rest of the event loop turn and sent to the agent's process in one message,
 * which adds them to its batcher in order. Synchronous for the recorder, like the
 * batcher, so the proxy never waits on the logging path.
 */
export class IpcSink implements EventSink {
  private pending: SessionEvent[] = [];
  private notRecorded = 0;
  private inFlight = 0;
  private scheduled = false;
  private recording: boolean;
  private flushWaiters: (() => void)[] = [];

  constructor(
    private readonly send: SendMessage,
    recording: boolean,
    /** The worker's open sessions per resource, sent along with the events. */
    private readonly openCounts: () => Record<string, number>,
  ) {
    this.recording = recording;
  }

  /** The agent's buffer entered or left a gap (its `recording` message). */
  setRecording(on: boolean): void {
    this.recording = on;
  }

  private get congested(): boolean {
    return !this.recording || this.inFlight >= MAX_MESSAGES_IN_FLIGHT;
  }

  admitSession(): boolean {
    if (!this.congested) return true;
    this.notRecorded += 1;
    this.schedule();
    return false;
  }

  add(event: SessionEvent): boolean {
    if (event.kind === EventKind.UPDATE && this.congested) return false;
    this.pending.push(event);
    if (this.pending.length >= MAX_EVENTS_PER_MESSAGE) this.flush();
    else this.schedule();
    return true;
  }

  /** Send what is pending now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 && this.notRecorded === 0) return;
    const message: FromWorker = {
      t: 'events',
      events: this.pending,
      notRecorded: this.notRecorded,
      open: this.openCounts(),
    };
    this.pending = [];
    this.notRecorded = 0;
    this.inFlight += 1;
    this.send(message, () => {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.wakeFlushWaiters();
    });
  }

  /** Send what is pending and resolve once every message has been written out. */
  drain(): Promise<void> {
    this.flush();
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  private wakeFlushWaiters(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }
}
