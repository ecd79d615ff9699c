import cluster, { type Worker } from 'node:cluster';
import { sumSnapshots, type MetricSnapshot } from '@connlog/metrics';
import { EventKind, type SessionEvent } from '@connlog/proto';
import { AGENT_BIN } from '../agent_bin.js';
import type { AgentConfig } from '../config/options.js';
import { AgentError, type AgentErrorCode } from '../errors.js';
import type { Recorder } from '../session/recorder.js';
import type { Telemetry } from '../telemetry.js';
import { FROM_WORKER_TAGS, isTagged, type FromWorker, type ToWorker } from './messages.js';
import type { WorkerTelemetry } from './telemetry.js';

/** Beyond the grace period, how long a stopping worker may take before it is killed. */
export const STOP_MARGIN_MS = 5000;
/** First delay before a crashed worker is replaced; doubles per crash, up to the max. */
export const RESTART_DELAY_MS = 1000;
export const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that is not listening this long after its fork has failed to start. */
export const START_TIMEOUT_MS = 30_000;
/** A worker that ran this long before crashing resets the delay. */
const STABLE_MS = 60_000;

/** Where the workers' events go: the agent's batcher. */
export interface PoolSink {
  add(event: SessionEvent): boolean;
  /** Sessions a worker proxied without recording them (it saw the agent in a gap). */
  addNotRecorded(count: number): void;
  /** Start a gap if the buffer is at its bound (the workers admit sessions themselves). */
  checkBound(): void;
}

export interface WorkerPoolOptions {
  count: number;
  config: AgentConfig;
  agentId: string;
  /** Node.js flags of the worker processes. */
  nodeArgs: readonly string[];
  sink: PoolSink;
  /** Whether the agent's buffer is recording now (false in a gap), for new workers. */
  recording: () => boolean;
  /** Ends the sessions of a worker that died (`recover`), through the agent's batcher. */
  recorder: Recorder;
  telemetry: Telemetry;
  workerTelemetry: WorkerTelemetry;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  startedAt: number;
  listening: boolean;
  /** The last event of each recorded session open in this worker. */
  readonly open: Map<string, SessionEvent>;
  openByResource: Record<string, number>;
  metrics: MetricSnapshot[];
  /** Sessions its stop cut (from its `stopped`). */
  cut: number;
  stopped: boolean;
  crashes: number;
  /** A replacement is starting: its failure schedules the next try (not a start error). */
  restarting: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  onGone: (() => void) | undefined;
}

/**
 * The worker processes of an agent with `workers` > 1 (node:cluster: the agent's
 * process holds each TCP listener and deals connections to the workers round-robin).
 * Each worker records its sessions and sends the events here, where they go into the
 * one batcher, spool and JetStream link. A worker that dies has its open sessions
 * ended with `agent_restart` (their last event's counters, as after an agent crash)
 * and is replaced after a delay that grows while crashes repeat.
 */
export class WorkerPool {
  private readonly slots: Slot[];
  /** Counters of workers that are gone, so totals never go back. */
  private retired: MetricSnapshot[] = [];
  private addresses: string[] = [];
  private stopping = false;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.slots = Array.from({ length: opts.count }, (_, index) => ({
      index,
      worker: undefined,
      startedAt: 0,
      listening: false,
      open: new Map(),
      openByResource: {},
      metrics: [],
      cut: 0,
      stopped: false,
      crashes: 0,
      restarting: false,
      restartTimer: undefined,
      onGone: undefined,
    }));
  }

  /** The TCP resources' bound addresses, in config order (TCP resources only). */
  get tcpAddresses(): readonly string[] {
    return this.addresses;
  }

  get openCount(): number {
    let total = 0;
    for (const slot of this.slots) {
      for (const n of Object.values(slot.openByResource)) total += n;
    }
    return total;
  }

  openCountOf(resourceId: string): number {
    let total = 0;
    for (const slot of this.slots) total += slot.openByResource[resourceId] ?? 0;
    return total;
  }

  /** Every worker's latest metrics and those of workers gone (a registry source). */
  snapshots(): MetricSnapshot[] {
    return [...this.retired, ...this.slots.flatMap((slot) => slot.metrics)];
  }

  /** Start every worker; resolves once all listen, rejects (all stopped) if one fails. */
  async start(): Promise<void> {
    const started = await Promise.allSettled(this.slots.map((slot) => this.fork(slot)));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      await this.stop(0);
      throw failed.reason;
    }
  }

  setRecording(on: boolean): void {
    this.broadcast({ t: 'recording', on });
  }

  reloadPeerMaps(): void {
    this.broadcast({ t: 'reload' });
  }

  /**
   * Stop every worker (each runs the shutdown sequence for its sessions) and wait for
   * their last events. Resolves the number of sessions cut. Idempotent in effect.
   */
  async stop(graceMs: number): Promise<number> {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    await Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker;
        if (worker === undefined) return;
        const gone = new Promise<void>((resolve) => (slot.onGone = resolve));
        if (!slot.listening) {
          // Still starting: it has no sessions, and would only take the stop after init.
          worker.process.kill('SIGKILL');
          await gone;
          return;
        }
        const waitMs = graceMs + STOP_MARGIN_MS;
        const timer = setTimeout(() => {
          this.opts.workerTelemetry.workerKilled(slot.index, worker.process.pid, waitMs);
          worker.process.kill('SIGKILL');
        }, waitMs);
        this.send(worker, { t: 'stop', graceMs });
        await gone;
        clearTimeout(timer);
      }),
    );
    return this.slots.reduce((sum, slot) => sum + slot.cut, 0);
  }

  private fork(slot: Slot): Promise<void> {
    cluster.setupPrimary({
      exec: AGENT_BIN,
      args: ['worker'],
      execArgv: [...this.opts.nodeArgs],
      serialization: 'advanced',
    });
    const worker = cluster.fork();
    Object.assign(slot, {
      worker,
      startedAt: Date.now(),
      listening: false,
      cut: 0,
      stopped: false,
    });
    return new Promise((resolve, reject) => {
      const startTimer = setTimeout(() => {
        if (slot.listening || slot.worker !== worker) return;
        reject(
          new AgentError(
            'LISTEN_FAILED',
            `worker ${slot.index} did not listen within ${START_TIMEOUT_MS} ms`,
          ),
        );
        worker.process.kill('SIGKILL');
      }, START_TIMEOUT_MS);
      startTimer.unref();
      worker.on('error', () => {
        // A send on a channel that just closed; its exit is handled below.
      });
      worker.on('message', (message: unknown) => {
        if (!isTagged<FromWorker>(message, FROM_WORKER_TAGS)) return;
        if (message.t === 'listening') {
          clearTimeout(startTimer);
          slot.listening = true;
          this.addresses = message.addresses;
          this.opts.workerTelemetry.workerListening(slot.index, worker.process.pid);
          resolve();
        } else if (message.t === 'failed') {
          clearTimeout(startTimer);
          this.opts.workerTelemetry.workerFailed(slot.index, message.code, message.message);
          reject(new AgentError(message.code as AgentErrorCode, message.message));
        } else {
          this.onMessage(slot, worker, message);
        }
      });
      worker.on('exit', (code, signal) => {
        // Its last messages are read before the channel closes: handle the exit after.
        const gone = (): void => this.onExit(slot, worker, code, signal, reject);
        if (worker.isConnected()) worker.once('disconnect', gone);
        else gone();
      });
    });
  }

  private onMessage(slot: Slot, worker: Worker, message: FromWorker): void {
    switch (message.t) {
      case 'ready':
        this.send(worker, {
          t: 'init',
          worker: slot.index,
          config: workerConfig(this.opts.config),
          agentId: this.opts.agentId,
          recording: this.opts.recording(),
        });
        break;
      case 'events':
        this.onEvents(slot, message.events);
        if (message.notRecorded > 0) this.opts.sink.addNotRecorded(message.notRecorded);
        slot.openByResource = message.open;
        break;
      case 'state':
        slot.metrics = message.metrics;
        slot.openByResource = message.open;
        break;
      case 'stopped':
        slot.cut = message.cut;
        slot.stopped = true;
        break;
      case 'listening':
      case 'failed':
        break;
    }
  }

  private onEvents(slot: Slot, events: readonly SessionEvent[]): void {
    const { sink, telemetry } = this.opts;
    for (const event of events) {
      if (event.kind === EventKind.END) slot.open.delete(event.sessionId);
      else slot.open.set(event.sessionId, event);
      // Refused only for an UPDATE while the buffer is full; its END carries the totals.
      if (!sink.add(event)) telemetry.updateSkipped();
    }
    sink.checkBound();
  }

  private onExit(
    slot: Slot,
    worker: Worker,
    code: number | null,
    signal: string | null,
    rejectStart: (err: Error) => void,
  ): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    // Its counters stay in the totals; its gauges (open sessions) are gone with it.
    this.retired = sumSnapshots(
      this.retired,
      slot.metrics.filter((metric) => metric.type !== 'gauge'),
    );
    slot.metrics = [];
    slot.openByResource = {};
    const lost = [...slot.open.values()];
    slot.open.clear();
    // Sessions it had open and never ended (it crashed, or was killed at stop).
    if (lost.length > 0) this.opts.recorder.recover(lost);
    const wasListening = slot.listening;
    slot.listening = false;
    if (slot.stopped || this.stopping) {
      if (wasListening) this.opts.workerTelemetry.workerStopped();
      slot.cut += slot.stopped ? 0 : lost.length;
      slot.onGone?.();
      return;
    }
    if (!wasListening && !slot.restarting) {
      rejectStart(
        new AgentError(
          'LISTEN_FAILED',
          `worker ${slot.index} exited before listening (code ${code}, signal ${signal})`,
        ),
      );
      return;
    }
    slot.crashes = Date.now() - slot.startedAt > STABLE_MS ? 1 : slot.crashes + 1;
    const restartInMs = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** (slot.crashes - 1));
    this.opts.workerTelemetry.workerExited({
      slot: slot.index,
      workerPid: worker.process.pid,
      code,
      signal,
      sessionsEnded: lost.length,
      restartInMs,
    });
    this.scheduleRestart(slot, restartInMs);
  }

  private scheduleRestart(slot: Slot, delayMs: number): void {
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      slot.restarting = true;
      this.fork(slot).then(
        () => (slot.restarting = false),
        () => {
          // Logged (workerFailed); its exit schedules the next try.
        },
      );
    }, delayMs);
  }

  private broadcast(message: ToWorker): void {
    for (const slot of this.slots) if (slot.worker) this.send(slot.worker, message);
  }

  private send(worker: Worker, message: ToWorker): void {
    if (worker.isConnected()) worker.send(message);
  }
}

/** What a worker needs of the config: no NATS credentials cross to it. */
function workerConfig(config: AgentConfig): AgentConfig {
  return {
    ...config,
    nats: { ...config.nats, user: undefined, pass: undefined, token: undefined },
  };
}
