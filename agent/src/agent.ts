import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Registry } from '@connlog/metrics';
import { sessionsSubject } from '@connlog/proto';
import { pino, type Logger } from 'pino';
import type { AgentConfig } from './config/options.js';
import { AGENT_NODE_ARGS } from './agent_bin.js';
import { AgentError, describeError } from './errors.js';
import { HttpServer, type Health } from './http/server.js';
import { loadPeerMaps, reloadPeerMaps } from './identity/load_peer_maps.js';
import type { PeerMap } from './identity/peer_map.js';
import { IdentityTelemetry } from './identity/telemetry.js';
import { SHUTDOWN_OUTCOME } from './proxy/close_reason.js';
import type { ResourceProxy } from './proxy/proxy.js';
import { TcpProxy } from './proxy/tcp.js';
import { UdpProxy } from './proxy/udp.js';
import { Batcher } from './publish/batcher.js';
import { NatsLink } from './publish/nats.js';
import { Publisher } from './publish/publisher.js';
import { Spooler } from './publish/spooler.js';
import { loadOrCreateAgentId } from './session/agent_id.js';
import { OpenSessionsJournal } from './session/journal.js';
import { Recorder } from './session/recorder.js';
import { createSpool, type SpoolKind } from './spool_factory.js';
import type { Spool, SpoolStats } from './spool/spool.js';
import { Telemetry } from './telemetry.js';
import { AGENT_VERSION } from './version.js';
import { withTimeout } from './with_timeout.js';
import { WorkerPool } from './workers/pool.js';
import { WorkerTelemetry } from './workers/telemetry.js';

export const JOURNAL_FILE = 'open-sessions.json';

export interface AgentDeps {
  /** Logger; default a silent one. */
  log?: Logger;
  /** Metrics registry; default a new one (served on `/metrics`). */
  registry?: Registry;
  /**
   * Node.js flags of worker processes (`workers` > 1); default the bin's shebang flags.
   * The CLI passes its own, so `node <flags> bin/connlog-agent.js` reaches the workers.
   */
  workerNodeArgs?: readonly string[];
}

export interface ResourceStatus {
  id: string;
  protocol: 'tcp' | 'udp';
  /** The bound `host:port` (the real port when the config said 0); `''` before start. */
  listen: string;
  target: string;
  sessionsOpen: number;
}

export interface AgentStatus {
  state: 'new' | 'starting' | 'running' | 'closing' | 'closed';
  agentId: string;
  org: string;
  site: string;
  version: string;
  resources: ResourceStatus[];
  /** Bound address of `/healthz` and `/metrics`; undefined when disabled or not started. */
  http: string | undefined;
  nats: { connected: boolean };
  spool: SpoolStats & { kind: SpoolKind };
  sessions: { open: number };
  /** Encoded events in memory on their way to the spool, and whether recording is on. */
  buffer: { bytes: number; recording: boolean };
}

export interface Agent {
  /** Open the spool, recover crashed sessions, start publishing, listen. */
  start(): Promise<void>;
  /**
   * Graceful stop: stop accepting, give open sessions `shutdownGrace`, end the rest with
   * `agent_shutdown`, flush, drain the spool to JetStream (bounded), close. Idempotent.
   */
  close(): Promise<void>;
  status(): AgentStatus;
  /**
   * Re-read every peer map now (SIGHUP). Resolves true when all new maps are in effect,
   * false when a file was bad (its previous map is kept, logged) or no peer map is
   * configured. Sessions already open keep their identity. Never rejects.
   */
  reloadPeerMap(): Promise<boolean>;
}

/** Build an agent from a validated config (see `loadConfig` / `parseConfig`). */
export function createAgent(config: AgentConfig, deps: AgentDeps = {}): Agent {
  return new AgentRuntime(config, deps);
}

interface Running {
  spool: Spool;
  spoolKind: SpoolKind;
  batcher: Batcher;
  spooler: Spooler;
  recorder: Recorder;
  link: NatsLink;
  publisher: Publisher;
  /** The resources proxied in this process: all, or the UDP ones when workers > 1. */
  proxies: ResourceProxy[];
  /** The worker processes proxying the TCP resources, when `workers` > 1. */
  pool: WorkerPool | undefined;
  http: HttpServer | undefined;
  /** Peer maps by absolute path (the top-level one and resources' own). */
  peerMaps: Map<string, PeerMap>;
}

class AgentRuntime implements Agent {
  private readonly log: Logger;
  private readonly telemetry: Telemetry;
  private readonly identityTelemetry: IdentityTelemetry;
  private readonly workerTelemetry: WorkerTelemetry;
  private readonly registry: Registry;
  private readonly workerNodeArgs: readonly string[];
  private state: AgentStatus['state'] = 'new';
  private agentId = '';
  private running: Running | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly config: AgentConfig,
    deps: AgentDeps,
  ) {
    this.log = deps.log ?? pino({ level: 'silent' });
    const registry = deps.registry ?? new Registry();
    this.registry = registry;
    this.telemetry = new Telemetry(this.log, registry);
    this.identityTelemetry = new IdentityTelemetry(this.log, registry);
    this.workerTelemetry = new WorkerTelemetry(this.log, registry);
    this.workerNodeArgs = deps.workerNodeArgs ?? AGENT_NODE_ARGS;
  }

  reloadPeerMap(): Promise<boolean> {
    const peerMaps = this.running?.peerMaps ?? new Map<string, PeerMap>();
    if (peerMaps.size === 0) {
      this.log.info({}, 'peer map reload requested: no peer map in effect');
      return Promise.resolve(false);
    }
    // Workers re-read their own copies; a bad file is logged by each, as here.
    this.running?.pool?.reloadPeerMaps();
    return reloadPeerMaps(peerMaps);
  }

  start(): Promise<void> {
    if (this.closing) return Promise.reject(new AgentError('AGENT_CLOSED', 'agent is closed'));
    this.starting ??= this.doStart();
    return this.starting;
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  status(): AgentStatus {
    const { config } = this;
    const r = this.running;
    return {
      state: this.state,
      agentId: this.agentId,
      org: config.org,
      site: config.site,
      version: AGENT_VERSION,
      resources: config.resources.map((resource, i) => ({
        id: resource.id,
        protocol: resource.protocol,
        listen: r ? this.addressOf(r, i) : '',
        target: resource.target,
        sessionsOpen:
          (r?.recorder.openCountOf(resource.id) ?? 0) + (r?.pool?.openCountOf(resource.id) ?? 0),
      })),
      http: r?.http?.address,
      nats: { connected: r?.link.connected ?? false },
      spool: {
        ...(r?.spool.stats() ?? { bytes: 0, batches: 0, segments: 0 }),
        kind: r?.spoolKind ?? config.spool.kind,
      },
      sessions: { open: r ? openSessions(r) : 0 },
      buffer: { bytes: r?.batcher.bufferedBytes ?? 0, recording: !(r?.batcher.inGap ?? false) },
    };
  }

  private async doStart(): Promise<void> {
    const { config, telemetry } = this;
    this.state = 'starting';
    try {
      mkdirSync(config.spool.dir, { recursive: true });
    } catch (err) {
      throw new AgentError(
        'SPOOL_OPEN',
        `spool.dir: cannot create ${config.spool.dir}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
    this.agentId = config.agentId ?? loadOrCreateAgentId(config.spool.dir);
    const peerMaps = await loadPeerMaps(config, this.log, this.identityTelemetry);
    const { spool, kind: spoolKind } = createSpool(config.spool, this.log);
    let opened;
    try {
      opened = await spool.open();
    } catch (err) {
      for (const peerMap of peerMaps.values()) peerMap.close();
      throw new AgentError(
        'SPOOL_OPEN',
        `spool: cannot open ${config.spool.dir}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
    telemetry.spoolOpened({ kind: spoolKind, dir: config.spool.dir, ...opened });
    telemetry.spoolBytes.onCollect(() => telemetry.spoolBytes.set({}, spool.stats().bytes));
    telemetry.spoolBatches.onCollect(() => telemetry.spoolBatches.set({}, spool.stats().batches));

    const journal = new OpenSessionsJournal(join(config.spool.dir, JOURNAL_FILE));
    const crashed = this.readJournal(journal);

    // Wired in a cycle (batcher → spooler → publisher; spooled batches release memory and
    // wake the publisher; acks free spool space); callbacks run only after all exist.
    const spooler: Spooler = new Spooler({
      spool,
      journal,
      telemetry,
      onSpooled: (batch) => {
        batcher.release(batch);
        publisher.notify(batch.batchSeq, batch.events);
      },
    });
    const batcher: Batcher = new Batcher({
      header: {
        agentId: this.agentId,
        orgId: config.org,
        siteId: config.site,
        agentVersion: AGENT_VERSION,
      },
      lastBatchSeq: opened.lastBatchSeq,
      maxBatchEvents: config.publish.maxBatchEvents,
      maxBatchBytes: config.publish.maxBatchBytes,
      flushIntervalMs: config.publish.flushInterval,
      maxBufferBytes: config.publish.maxBufferBytes,
      onBatch: (batch) => spooler.push(batch),
      gapReason: () => (spooler.spoolFull ? 'spool_full' : 'buffer_full'),
      onGapStarted: (reason, bytes) => {
        telemetry.recordingGapStarted(reason, bytes);
        pool?.setRecording(false);
      },
      onGapEnded: (gap) => {
        telemetry.recordingGapEnded(gap);
        pool?.setRecording(true);
      },
      onBufferChanged: (bytes) => telemetry.bufferBytesChanged(bytes),
    });
    const link = new NatsLink(config.nats, telemetry, config.publish.ackTimeout);
    const publisher: Publisher = new Publisher({
      spool,
      link,
      subject: sessionsSubject(config.org, config.site),
      agentId: this.agentId,
      maxInflight: config.publish.maxInflight,
      telemetry,
      onAcked: () => spooler.notifySpaceFreed(),
    });
    const recorder = new Recorder({
      orgId: config.org,
      siteId: config.site,
      agentId: this.agentId,
      updateIntervalMs: config.updateInterval,
      sink: batcher,
      telemetry,
    });
    const inWorkers = (protocol: string): boolean => config.workers > 1 && protocol === 'tcp';
    const pool =
      config.workers > 1 && config.resources.some((resource) => inWorkers(resource.protocol))
        ? new WorkerPool({
            count: config.workers,
            config,
            agentId: this.agentId,
            nodeArgs: this.workerNodeArgs,
            sink: batcher,
            recording: () => !batcher.inGap,
            recorder,
            telemetry,
            workerTelemetry: this.workerTelemetry,
          })
        : undefined;
    if (pool) this.registry.addSource(() => pool.snapshots());
    const local = config.resources.filter((resource) => !inWorkers(resource.protocol));
    const proxies: ResourceProxy[] = local.map((resource) => {
      const file = resource.peerMap?.file;
      const identity = {
        peerMap: file === undefined ? undefined : peerMaps.get(resolve(file)),
        telemetry: this.identityTelemetry,
      };
      return resource.protocol === 'udp'
        ? new UdpProxy({ resource, recorder, telemetry, identity })
        : new TcpProxy({ resource, recorder, telemetry, identity });
    });
    const http =
      config.http.listen === ''
        ? undefined
        : new HttpServer(telemetry.registry, () => this.health());
    const running: Running = {
      spool,
      spoolKind,
      batcher,
      spooler,
      recorder,
      link,
      publisher,
      proxies,
      pool,
      http,
      peerMaps,
    };
    this.running = running;

    spooler.start();
    if (crashed.length > 0) {
      recorder.recover(crashed);
      batcher.flush();
      telemetry.sessionsRecovered(crashed.length, journal.file);
    }
    link.start();
    publisher.start();
    try {
      if (http) await http.listen(config.http.listen);
      for (const proxy of proxies) await proxy.listen();
      await pool?.start();
    } catch (err) {
      await this.shutdown(running, 0);
      this.state = 'closed';
      throw err;
    }
    recorder.startTicker();
    this.state = 'running';
    this.log.info(
      {
        agentId: this.agentId,
        org: config.org,
        site: config.site,
        version: AGENT_VERSION,
        resources: config.resources.map((resource, i) => ({
          id: resource.id,
          listen: this.addressOf(running, i),
        })),
        workers: config.workers,
        http: http?.address,
        nats: config.nats.servers,
      },
      'agent started',
    );
  }

  /** The bound address of resource `i`, wherever it is proxied ('' before listening). */
  private addressOf(r: Running, i: number): string {
    const resource = this.config.resources[i];
    if (resource === undefined) return '';
    const inPool = (other: typeof resource): boolean =>
      r.pool !== undefined && other.protocol === 'tcp';
    const pooled = inPool(resource);
    // Its index among the resources proxied on the same side (here, or in the workers).
    const k = this.config.resources.slice(0, i).filter((other) => inPool(other) === pooled).length;
    return pooled ? (r.pool?.tcpAddresses[k] ?? '') : (r.proxies[k]?.address ?? '');
  }

  private readJournal(journal: OpenSessionsJournal) {
    try {
      return journal.load();
    } catch (err) {
      let movedTo = '';
      try {
        movedTo = journal.quarantine();
      } catch {
        // Left in place; the next write replaces it.
      }
      this.telemetry.journalUnreadable(journal.file, err, movedTo);
      return [];
    }
  }

  private health(): Health {
    const r = this.running;
    const stats = r?.spool.stats() ?? { bytes: 0, batches: 0 };
    return {
      ok: this.state === 'running',
      nats: { connected: r?.link.connected ?? false },
      spool: { batches: stats.batches, bytes: stats.bytes },
      sessionsOpen: r ? openSessions(r) : 0,
      recording: !(r?.batcher.inGap ?? false),
    };
  }

  private async doClose(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const running = this.running;
    if (running === undefined || this.state === 'closed') {
      this.state = 'closed';
      return;
    }
    this.state = 'closing';
    this.log.info(
      { openSessions: openSessions(running), graceMs: this.config.shutdownGrace },
      'agent stopping',
    );
    await this.shutdown(running, this.config.shutdownGrace);
    this.state = 'closed';
  }

  /** The shutdown sequence (also used to undo a failed start, with no grace). */
  private async shutdown(r: Running, graceMs: number): Promise<void> {
    const { config, log } = this;
    await Promise.all(r.proxies.map((proxy) => proxy.stopAccepting()));
    // Workers run the same sequence for their sessions, at the same time; their last
    // events are in the batcher once this resolves.
    const workersCut = r.pool?.stop(graceMs) ?? Promise.resolve(0);
    for (const peerMap of r.peerMaps.values()) peerMap.close();
    if (r.recorder.openCount > 0 && graceMs > 0) {
      await withTimeout(r.recorder.whenIdle(), graceMs);
    }
    let cut = r.recorder.openCount;
    for (const proxy of r.proxies) proxy.abortAll(SHUTDOWN_OUTCOME);
    cut += await workersCut;
    r.recorder.stopTicker();
    r.batcher.close();

    const deadline = Date.now() + config.publish.drainTimeout;
    await withTimeout(r.spooler.idle(), Math.max(0, deadline - Date.now()));
    const lostInMemory = await r.spooler.stop();
    while (r.spool.stats().batches > 0 && r.link.connected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await r.publisher.stop();
    await r.link.close();
    const left = r.spool.stats();
    await r.spool.close();
    await r.http?.close();
    const summary = {
      sessionsCut: cut,
      batchesLeftInSpool: left.batches,
      batchesLostInMemory: lostInMemory,
      spoolKind: r.spoolKind,
    };
    if (lostInMemory > 0 || (left.batches > 0 && r.spoolKind === 'memory')) {
      log.error(summary, 'agent stopped with unspooled or memory-spooled batches: they are lost');
    } else {
      log.info(summary, 'agent stopped');
    }
  }
}

function openSessions(r: Running): number {
  return r.recorder.openCount + (r.pool?.openCount ?? 0);
}
