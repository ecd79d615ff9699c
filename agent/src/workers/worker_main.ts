import cluster from 'node:cluster';
import { resolve } from 'node:path';
import { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import { AgentError, describeError } from '../errors.js';
import { loadPeerMaps, reloadPeerMaps } from '../identity/load_peer_maps.js';
import type { PeerMap } from '../identity/peer_map.js';
import { IdentityTelemetry } from '../identity/telemetry.js';
import { createLogger } from '../log.js';
import { SHUTDOWN_OUTCOME } from '../proxy/close_reason.js';
import { TcpProxy } from '../proxy/tcp.js';
import { Recorder } from '../session/recorder.js';
import { Telemetry } from '../telemetry.js';
import { withTimeout } from '../with_timeout.js';
import { IpcSink } from './ipc_sink.js';
import { isTagged, TO_WORKER_TAGS, type FromWorker, type ToWorker } from './messages.js';

/** How often a worker sends its metrics and open sessions to the agent's process. */
export const STATE_INTERVAL_MS = 1000;

type Init = Extract<ToWorker, { t: 'init' }>;

/**
 * A worker process (`connlog-agent worker`, forked by the agent when `workers` > 1):
 * proxies the config's TCP resources on listeners node:cluster shares with the other
 * workers, records sessions as the agent does, and sends the events to the agent's
 * process, which spools and publishes them. Signals are the agent process's business:
 * a worker stops when told to, or when that process is gone.
 */
export async function runWorker(): Promise<void> {
  if (!cluster.isWorker || process.send === undefined) {
    throw new AgentError(
      'CONFIG_INVALID',
      'the worker command is started by the agent itself (workers > 1), not by hand',
    );
  }
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => {});
  const init = await new Promise<Init>((resolveInit) => {
    const onMessage = (message: unknown): void => {
      if (isTagged<ToWorker>(message, TO_WORKER_TAGS) && message.t === 'init') {
        process.off('message', onMessage);
        resolveInit(message);
      }
    };
    process.on('message', onMessage);
    send({ t: 'ready' }, () => undefined);
  });
  const worker = new WorkerRuntime(init);
  try {
    await worker.start();
  } catch (err) {
    const code = err instanceof AgentError ? err.code : 'LISTEN_FAILED';
    await sendAndWait({ t: 'failed', code, message: describeError(err) });
    process.exit(1);
  }
}

/** Send to the agent's process; `done` once written (or at once if the channel is gone). */
function send(message: FromWorker, done: () => void): void {
  if (process.send === undefined || !process.connected) {
    done();
    return;
  }
  process.send(message, undefined, undefined, () => done());
}

function sendAndWait(message: FromWorker): Promise<void> {
  return new Promise((done) => send(message, done));
}

class WorkerRuntime {
  private readonly log: Logger;
  private readonly registry = new Registry();
  private readonly telemetry: Telemetry;
  private readonly identityTelemetry: IdentityTelemetry;
  private readonly sink: IpcSink;
  private readonly recorder: Recorder;
  private proxies: TcpProxy[] = [];
  private peerMaps = new Map<string, PeerMap>();
  private stateTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly init: Init) {
    const { config } = init;
    this.log = createLogger(config.log.level).child({ worker: init.worker });
    this.telemetry = new Telemetry(this.log, this.registry);
    this.identityTelemetry = new IdentityTelemetry(this.log, this.registry);
    this.sink = new IpcSink(send, init.recording, () => this.openCounts());
    this.recorder = new Recorder({
      orgId: config.org,
      siteId: config.site,
      agentId: init.agentId,
      updateIntervalMs: config.updateInterval,
      sink: this.sink,
      telemetry: this.telemetry,
    });
  }

  async start(): Promise<void> {
    const { config } = this.init;
    this.peerMaps = await loadPeerMaps(config, this.log, this.identityTelemetry);
    this.proxies = config.resources
      .filter((resource) => resource.protocol === 'tcp')
      .map((resource) => {
        const file = resource.peerMap?.file;
        const identity = {
          peerMap: file === undefined ? undefined : this.peerMaps.get(resolve(file)),
          telemetry: this.identityTelemetry,
        };
        return new TcpProxy({
          resource,
          recorder: this.recorder,
          telemetry: this.telemetry,
          identity,
        });
      });
    process.on('message', (message: unknown) => {
      if (isTagged<ToWorker>(message, TO_WORKER_TAGS)) this.onMessage(message);
    });
    // The agent's process is gone (killed): nothing can record these sessions now.
    process.on('disconnect', () => {
      if (this.stopping) return;
      this.log.error({}, "the agent's process is gone: the worker ends its sessions and exits");
      for (const proxy of this.proxies) proxy.abortAll(SHUTDOWN_OUTCOME);
      process.exit(1);
    });
    const addresses: string[] = [];
    for (const proxy of this.proxies) addresses.push(await proxy.listen());
    this.recorder.startTicker();
    this.stateTimer = setInterval(() => send(this.state(), () => undefined), STATE_INTERVAL_MS);
    this.stateTimer.unref();
    send({ t: 'listening', addresses }, () => undefined);
  }

  private onMessage(message: ToWorker): void {
    switch (message.t) {
      case 'recording':
        this.sink.setRecording(message.on);
        break;
      case 'reload':
        void reloadPeerMaps(this.peerMaps);
        break;
      case 'stop':
        void this.stop(message.graceMs);
        break;
      case 'init':
        break;
    }
  }

  private openCounts(): Record<string, number> {
    const open: Record<string, number> = {};
    for (const resource of this.init.config.resources) {
      if (resource.protocol === 'tcp') open[resource.id] = this.recorder.openCountOf(resource.id);
    }
    return open;
  }

  private state(): FromWorker {
    return { t: 'state', metrics: this.registry.snapshot(), open: this.openCounts() };
  }

  /** The agent's shutdown sequence, for this worker's sessions (see `Agent.close`). */
  private async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(this.proxies.map((proxy) => proxy.stopAccepting()));
    for (const peerMap of this.peerMaps.values()) peerMap.close();
    if (this.recorder.openCount > 0 && graceMs > 0) {
      await withTimeout(this.recorder.whenIdle(), graceMs);
    }
    const cut = this.recorder.openCount;
    for (const proxy of this.proxies) proxy.abortAll(SHUTDOWN_OUTCOME);
    this.recorder.stopTicker();
    clearInterval(this.stateTimer);
    await this.sink.drain();
    await sendAndWait(this.state());
    await sendAndWait({ t: 'stopped', cut });
    process.exit(0);
  }
}
