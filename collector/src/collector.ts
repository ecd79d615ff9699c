/**
 * The collector: store + JetStream consumer + control plane (retention, API keys,
 * admin log) + HTTP server, started and stopped in order. `start()` fails fast with a
 * clear error (store, NATS, KV, port); `close()` stops pulling, flushes the batch in
 * flight, stops HTTP, closes the control plane (flushing the admin log), drains NATS
 * and closes the store.
 */
import type { Logger } from 'pino';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@connlog/metrics';
import type { CollectorConfig } from './config.js';
import { CollectorError } from './errors.js';
import { createApiServer, type ApiServer, type HealthStatus } from './api/server.js';
import { startControlPlane, type ControlPlane } from './control/plane.js';
import { SessionConsumer, type ConsumerStatus } from './ingest/consumer.js';
import { connectNats } from './ingest/nats.js';
import { RowsStored, type RowsStoredListener } from './ingest/rows_stored.js';
import { setupJetStream } from './ingest/setup.js';
import { createStore } from './store/index.js';
import type { Store } from './store/store.js';
import { createTelemetry } from './telemetry.js';

export type CollectorState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface CollectorStatus extends HealthStatus {
  ok: boolean;
  state: CollectorState;
  store: Store['kind'];
  nats: 'connected' | 'disconnected';
  ingest: ConsumerStatus | undefined;
}

export interface CollectorOptions {
  log: Logger;
  /** Registry for every metric; a new one by default. */
  metrics?: Registry;
  /** Store to use instead of one built from the config (one per process for chDB). */
  store?: Store;
  /**
   * The `retention_days` stamped on each row of an org (0 = do not store).
   * @default the org's setting in NATS KV, else `retention.defaultDays`
   */
  retentionFor?: (org: string) => number;
}

export interface Collector {
  start(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  status(): CollectorStatus;
  readonly store: Store;
  readonly metrics: Registry;
  /** `host:port` the HTTP server listens on; throws before `start()` finished. */
  httpAddress(): string;
  /** Rows as ClickHouse accepted them (for live tails); returns the unsubscribe. */
  onRowsStored(listener: RowsStoredListener): () => void;
  /**
   * Run a TTL enforcement pass now, on sessions and on the admin log (the one the
   * `retention.enforceInterval` schedule runs); resolves with the sessions partitions
   * rewritten. Rejects before `start()` finished.
   */
  enforceRetention(): Promise<number>;
}

/** After this many INSERT failures in a row, /healthz says not ok. */
const UNHEALTHY_AFTER_FAILURES = 3;

export function createCollector(config: CollectorConfig, options: CollectorOptions): Collector {
  const { log } = options;
  const metrics = options.metrics ?? new Registry();
  const telemetry = createTelemetry(log, metrics);
  const store = options.store ?? createStore(config, log);
  const rowsStored = new RowsStored((err) => telemetry.listenerFailed(err));
  let state: CollectorState = 'created';
  let natsConnected = false;
  let nc: NatsConnection | undefined;
  let consumer: SessionConsumer | undefined;
  let http: ApiServer | undefined;
  let control: ControlPlane | undefined;
  let address: string | undefined;
  let closing: Promise<void> | undefined;
  let starting: Promise<void> | undefined;

  const status = (): CollectorStatus => {
    const ingest = consumer?.status();
    const failing = (ingest?.consecutiveInsertFailures ?? 0) >= UNHEALTHY_AFTER_FAILURES;
    return {
      ok: state === 'running' && natsConnected && !failing,
      state,
      store: store.kind,
      nats: natsConnected ? 'connected' : 'disconnected',
      ingest,
    };
  };

  const shutdown = async (): Promise<void> => {
    // Stop taking work first, then flush, then release connections.
    await consumer?.stop();
    await http?.close();
    // After HTTP and ingest: nothing records to the admin log or reads settings anymore.
    await control?.close();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc?.close());
    natsConnected = false;
    await store.close();
  };

  return {
    store,
    metrics,
    status,

    start() {
      if (state !== 'created') {
        return Promise.reject(
          new CollectorError('COLLECTOR_STATE', `start() called in state ${state}`),
        );
      }
      state = 'starting';
      starting = startAll();
      return starting;
    },

    close() {
      closing ??= (async () => {
        // A close during start waits for start to settle, then undoes what it did.
        await starting?.catch(() => undefined);
        if (state === 'stopped' || state === 'failed') return;
        state = 'stopping';
        await shutdown();
        state = 'stopped';
        telemetry.stopped();
      })();
      return closing;
    },

    httpAddress() {
      if (address === undefined) {
        throw new CollectorError('COLLECTOR_STATE', 'the HTTP server is not listening yet');
      }
      return address;
    },

    onRowsStored(listener) {
      return rowsStored.on(listener);
    },

    async enforceRetention() {
      if (!control || state !== 'running') {
        throw new CollectorError('COLLECTOR_STATE', `cannot enforce retention in state ${state}`);
      }
      const [partitions] = await Promise.all([
        control.enforcer.runOnce(),
        control.adminTtl.runOnce(),
      ]);
      return partitions;
    },
  };

  async function startAll(): Promise<void> {
    try {
      await store.migrate();
      nc = await connectNats(config.nats, telemetry, (connected) => {
        natsConnected = connected;
      });
      await setupJetStream(await jetstreamManager(nc), config.nats, telemetry);
      // Before ingest: rows are stamped with the org's retention from KV.
      const plane = await startControlPlane({ config, nc, store, log, metrics });
      control = plane;
      http = createApiServer({
        store,
        log,
        metrics,
        config,
        health: status,
        events: { onRowsStored: (listener) => rowsStored.on(listener) },
        adminLog: plane.adminLog,
        retention: { settings: plane.settings, ttl: plane.applier },
        serviceLog: config.serviceLog.enabled,
        ...(plane.keys ? { keys: plane.keys, metricsAuth: config.auth.metricsAuth } : {}),
      });
      address = await http.listen();
      consumer = new SessionConsumer({
        nc,
        config,
        store,
        telemetry,
        rowsStored,
        retentionFor: options.retentionFor ?? ((org) => plane.settings.storedDays(org)),
        log,
      });
      await consumer.start();
      state = 'running';
      telemetry.started({
        store: store.kind,
        stream: config.nats.stream.name,
        consumer: config.nats.consumer.durable,
        http: address,
      });
    } catch (err) {
      state = 'failed';
      await shutdown().catch((closeErr: unknown) =>
        log.warn({ err: closeErr }, 'cleanup after failed start'),
      );
      throw err;
    }
  }
}
