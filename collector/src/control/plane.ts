/**
 * The collector's control plane: retention settings (NATS KV) and their enforcement,
 * API keys (NATS KV), the admin action log, and the relay of the CLI's admin actions.
 * Started after NATS and the store, before HTTP and ingest (ingest stamps each row
 * with the org's retention, HTTP checks keys); closed after both.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import { createAdminLog, type AdminLog } from '../admin/index.js';
import { createApiKeys, type ApiKeys } from '../auth/index.js';
import type { CollectorConfig } from '../config.js';
import {
  createRetentionSettings,
  createTtlEnforcer,
  type RetentionSettings,
  type TtlEnforcer,
} from '../retention/index.js';
import type { Store } from '../store/store.js';
import { createAdminTtl, type AdminTtl } from './admin_ttl.js';
import { startAdminRelay } from './relay.js';
import { createRetentionApplier, type RetentionApplier } from './retention_apply.js';

export interface ControlPlane {
  readonly settings: RetentionSettings;
  readonly enforcer: TtlEnforcer;
  /** What the retention route calls after a change (shares the listener's run). */
  readonly applier: RetentionApplier;
  readonly adminLog: AdminLog;
  readonly adminTtl: AdminTtl;
  /** Present when `auth.enabled`. */
  readonly keys: ApiKeys | undefined;
  /** Stop everything in reverse order; idempotent. */
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  config: CollectorConfig;
  nc: NatsConnection;
  store: Store;
  log: Logger;
  metrics: Registry;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { config, nc, store, log, metrics } = options;
  const replicas = config.nats.stream.replicas;
  const database = config.clickhouse.database;
  const cluster = config.clickhouse.cluster;
  // Undone in reverse order by close(), also when a later step fails.
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse().splice(0)) {
      await close().catch((err: unknown) => log.warn({ err }, 'control plane close step failed'));
    }
  };
  try {
    const settings = await createRetentionSettings({
      nc,
      defaultDays: config.retention.defaultDays,
      log,
      registry: metrics,
      bucket: config.retention.bucket,
      replicas,
    });
    closers.push(() => settings.close());

    let keys: ApiKeys | undefined;
    if (config.auth.enabled) {
      const opened = await createApiKeys({
        nc,
        log,
        registry: metrics,
        bucket: config.auth.bucket,
        replicas,
      });
      keys = opened;
      closers.push(() => opened.close());
    }

    const adminTtl = createAdminTtl({
      store,
      log,
      retentionDays: config.adminLog.retentionDays,
      database,
      ...(cluster !== undefined ? { cluster } : {}),
      intervalMs: config.retention.enforceInterval,
    });
    const adminLog = createAdminLog({
      store: {
        insertAdminActions: (rows, insertOptions) =>
          store.insertAdminActions(adminTtl.stampRows(rows), insertOptions),
        query: (sql, params, queryOptions) => store.query(sql, params, queryOptions),
      },
      log,
      registry: metrics,
      database,
    });
    // The log flushes at close, so it closes after everything that records to it.
    closers.push(() => adminLog.close());
    closers.push(() => adminTtl.close());
    adminTtl.start();

    const enforcer = createTtlEnforcer({
      store,
      log,
      registry: metrics,
      intervalMs: config.retention.enforceInterval,
      database,
      ...(cluster !== undefined ? { cluster } : {}),
      expectedStoredDays: (org) => settings.storedDays(org),
    });
    closers.push(() => enforcer.close());
    const applier = createRetentionApplier(enforcer, log);
    const unsubscribe = settings.onChange((org, days) => applier.changed(org, days));
    closers.push(async () => {
      unsubscribe();
      await applier.settled();
    });
    enforcer.start();

    const relay = await startAdminRelay({ nc, adminLog, log, registry: metrics, replicas });
    closers.push(() => relay.close());

    let closing: Promise<void> | undefined;
    return {
      settings,
      enforcer,
      applier,
      adminLog,
      adminTtl,
      keys,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
