import type { Counter, Gauge, Registry } from '@connlog/metrics';
import type { Logger } from 'pino';

/** Lifecycle of the worker processes: each event logs and counts together. */
export class WorkerTelemetry {
  private readonly running: Gauge;
  private readonly exits: Counter;

  constructor(
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.running = registry.gauge(
      'connlog_agent_workers_running',
      'Worker processes proxying the TCP resources (0 when workers is 1).',
    );
    this.exits = registry.counter(
      'connlog_agent_worker_exits_total',
      'Worker processes that exited without being told to (each is replaced).',
    );
  }

  workerListening(slot: number, pid: number | undefined): void {
    this.running.inc();
    this.log.info({ worker: slot, workerPid: pid }, 'worker listening');
  }

  workerFailed(slot: number, code: string, message: string): void {
    this.log.error({ worker: slot, code, err: message }, 'worker failed to start');
  }

  workerExited(fields: {
    slot: number;
    workerPid: number | undefined;
    code: number | null;
    signal: string | null;
    sessionsEnded: number;
    restartInMs: number;
  }): void {
    this.running.dec();
    this.exits.inc();
    this.log.error(
      fields,
      'worker exited unexpectedly: its open sessions are ended with agent_restart, a new worker follows',
    );
  }

  workerStopped(): void {
    this.running.dec();
  }

  workerKilled(slot: number, pid: number | undefined, waitedMs: number): void {
    this.log.warn(
      { worker: slot, workerPid: pid, waitedMs },
      'worker did not stop in time: killed',
    );
  }
}
