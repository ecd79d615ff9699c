import { EventKind } from '@connlog/proto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  IpcSink,
  MAX_EVENTS_PER_MESSAGE,
  MAX_MESSAGES_IN_FLIGHT,
} from '../../src/workers/ipc_sink.js';
import type { FromWorker } from '../../src/workers/messages.js';
import { event } from './helpers.js';

type Events = Extract<FromWorker, { t: 'events' }>;

function make(recording = true) {
  const sent: Events[] = [];
  const pending: (() => void)[] = [];
  const sink = new IpcSink(
    (message, done) => {
      if (message.t === 'events') sent.push(message);
      pending.push(done);
    },
    recording,
    () => ({ db: 2 }),
  );
  const writeAll = (): void => {
    for (const done of pending.splice(0)) done();
  };
  return { sink, sent, writeAll };
}

describe('IpcSink (a worker’s events on their way to the agent’s process)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the events of one event loop turn in one message, in order, with the open counts', () => {
    const { sink, sent } = make();
    expect(sink.admitSession()).toBe(true);
    sink.add(event({ seq: 1 }));
    sink.add(event({ kind: EventKind.END, seq: 2 }));
    expect(sent).toHaveLength(0);
    vi.runOnlyPendingTimers();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(sent[0]).toMatchObject({ notRecorded: 0, open: { db: 2 } });
  });

  it(`splits a busy turn at ${MAX_EVENTS_PER_MESSAGE} events per message`, () => {
    const { sink, sent } = make();
    for (let i = 0; i < MAX_EVENTS_PER_MESSAGE * 2 + 5; i += 1) sink.add(event());
    vi.runOnlyPendingTimers();
    expect(sent.map((m) => m.events.length)).toEqual([
      MAX_EVENTS_PER_MESSAGE,
      MAX_EVENTS_PER_MESSAGE,
      5,
    ]);
  });

  it('while the agent is in a gap: new sessions unrecorded and counted, UPDATEs skipped, ENDs sent', () => {
    const { sink, sent } = make(false);
    expect(sink.admitSession()).toBe(false);
    expect(sink.admitSession()).toBe(false);
    expect(sink.add(event({ kind: EventKind.UPDATE }))).toBe(false);
    expect(sink.add(event({ kind: EventKind.END }))).toBe(true);
    vi.runOnlyPendingTimers();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.notRecorded).toBe(2);
    expect(sent[0]?.events.map((e) => e.kind)).toEqual([EventKind.END]);
    sink.setRecording(true);
    expect(sink.admitSession()).toBe(true);
  });

  it(`at ${MAX_MESSAGES_IN_FLIGHT} messages not yet written it applies the same policy, then recovers`, () => {
    const { sink, writeAll } = make();
    for (let i = 0; i < MAX_MESSAGES_IN_FLIGHT; i += 1) {
      sink.add(event());
      sink.flush();
    }
    expect(sink.admitSession()).toBe(false);
    expect(sink.add(event({ kind: EventKind.UPDATE }))).toBe(false);
    expect(sink.add(event({ kind: EventKind.END }))).toBe(true);
    writeAll();
    expect(sink.admitSession()).toBe(true);
  });

  it('drain() resolves once every message is written', async () => {
    const { sink, sent, writeAll } = make();
    sink.add(event());
    let drained = false;
    const done = sink.drain().then(() => (drained = true));
    expect(sent).toHaveLength(1);
    await Promise.resolve();
    expect(drained).toBe(false);
    writeAll();
    await done;
    expect(drained).toBe(true);
  });
});
