import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Registry } from '@connlog/metrics';
import { sessionsSubject } from '@connlog/proto';
import { pino, type Logger } from 'pino';
import type { AgentConfig } from './config/options.js';
import { AgentError, describeError } from './errors.js';
import { HttpServer, type Health } from './http/server.js';
import { IdentityError } from './identity/errors.js';
import { createPeerMap, type PeerMap } from './identity/peer_map.js';
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

export const JOURNAL_FILE = 'open-sessions.json';

export interface AgentDeps {
  /** Logger; default a silent one. */
  log?: Logger;
  /** Metrics registry; default a new one (served on `/metrics`). */
  registry?: Registry;
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
  proxies: ResourceProxy[];
  http: HttpServer | undefined;
  /** Peer maps by absolute path (the top-level one and resources' own). */
  peerMaps: Map<string, PeerMap>;
}

class AgentRuntime implements Agent {
  private readonly log: Logger;
  private readonly telemetry: Telemetry;
  private readonly identityTelemetry: IdentityTelemetry;
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
    this.telemetry = new Telemetry(this.log, registry);
    this.identityTelemetry = new IdentityTelemetry(this.log, registry);
  }

  reloadPeerMap(): Promise<boolean> {
    const peerMaps = [...(this.running?.peerMaps.values() ?? [])];
    if (peerMaps.length === 0) {
      this.log.info({}, 'peer map reload requested: no peer map in effect');
      return Promise.resolve(false);
    }
    return Promise.all(peerMaps.map((peerMap) => peerMap.reload())).then((all) =>
      all.every(Boolean),
    );
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
        listen: r?.proxies[i]?.address ?? '',
        target: resource.target,
        sessionsOpen: r?.recorder.openCountOf(resource.id) ?? 0,
      })),
      http: r?.http?.address,
      nats: { connected: r?.link.connected ?? false },
      spool: {
        ...(r?.spool.stats() ?? { bytes: 0, batches: 0, segments: 0 }),
        kind: r?.spoolKind ?? config.spool.kind,
      },
      sessions: { open: r?.recorder.openCount ?? 0 },
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
    const peerMaps = await this.loadPeerMaps();
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
      onGapStarted: (reason, bytes) => telemetry.recordingGapStarted(reason, bytes),
      onGapEnded: (gap) => telemetry.recordingGapEnded(gap),
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
    const proxies: ResourceProxy[] = config.resources.map((resource) => {
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
        resources: proxies.map((proxy, i) => ({
          id: config.resources[i]?.id,
          listen: proxy.address,
        })),
        http: http?.address,
        nats: config.nats.servers,
      },
      'agent started',
    );
  }

  /**
   * At startup every peer map must load: a bad file stops the agent naming the key and
   * the entry. A file named by several resources (or by them and the top level) is
   * loaded and watched once.
   */
  private async loadPeerMaps(): Promise<Map<string, PeerMap>> {
    const { config } = this;
    const wanted = new Map<string, { file: string; key: string }>();
    if (config.peerMap)
      wanted.set(resolve(config.peerMap.file), { file: config.peerMap.file, key: 'peerMap.file' });
    config.resources.forEach((resource, i) => {
      const file = resource.peerMap?.file;
      if (file !== undefined && !wanted.has(resolve(file))) {
        wanted.set(resolve(file), { file, key: `resources[${i}].peerMap.file` });
      }
    });
    const loaded = new Map<string, PeerMap>();
    for (const [path, { file, key }] of wanted) {
      try {
        const peerMap = await createPeerMap({
          file,
          log: this.log,
          onReload: (event) => this.identityTelemetry.peerMapReloaded(file, event),
        });
        this.identityTelemetry.peerMapLoaded(file, peerMap.stats().entries);
        loaded.set(path, peerMap);
      } catch (err) {
        for (const peerMap of loaded.values()) peerMap.close();
        const message = err instanceof IdentityError ? err.message : describeError(err);
        throw new AgentError('CONFIG_INVALID', `${key}: ${message}`, { cause: err });
      }
    }
    return loaded;
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
      sessionsOpen: r?.recorder.openCount ?? 0,
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
      { openSessions: running.recorder.openCount, graceMs: this.config.shutdownGrace },
      'agent stopping',
    );
    await this.shutdown(running, this.config.shutdownGrace);
    this.state = 'closed';
  }

  /** The shutdown sequence (also used to undo a failed start, with no grace). */
  private async shutdown(r: Running, graceMs: number): Promise<void> {
    const { config, log } = this;
    await Promise.all(r.proxies.map((proxy) => proxy.stopAccepting()));
    for (const peerMap of r.peerMaps.values()) peerMap.close();
    if (r.recorder.openCount > 0 && graceMs > 0) {
      await withTimeout(r.recorder.whenIdle(), graceMs);
    }
    const cut = r.recorder.openCount;
    for (const proxy of r.proxies) proxy.abortAll(SHUTDOWN_OUTCOME);
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

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
