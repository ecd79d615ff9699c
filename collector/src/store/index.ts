import type { Logger } from 'pino';
import type { CollectorConfig } from '../config.js';
import { createChdbStore } from './chdb.js';
import { createHttpStore } from './clickhouse_http.js';
import { faultInjectionEnabled, withInsertFaults } from './faulty.js';
import type { Store } from './store.js';

/**
 * The store for this config: a ClickHouse server when `clickhouse.url` is set,
 * otherwise the embedded engine in `<dataDir>/clickhouse`. Neither engine's library
 * is loaded until the store is first used. Keep one store per process: chDB binds
 * one data directory per process. Under `NODE_ENV=test` or `CONNLOG_FAULT_INJECTION=1`
 * the store honours the fault-injection flag file (see faulty.ts).
 */
export function createStore(
  config: CollectorConfig,
  log: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Store {
  const store = createEngineStore(config, log);
  return faultInjectionEnabled(env) ? withInsertFaults(store, config.dataDir, log) : store;
}

function createEngineStore(config: CollectorConfig, log: Logger): Store {
  const { clickhouse } = config;
  if (clickhouse.url !== undefined) {
    return createHttpStore({
      url: clickhouse.url,
      username: clickhouse.username,
      password: clickhouse.password,
      database: clickhouse.database,
      ...(clickhouse.cluster !== undefined ? { cluster: clickhouse.cluster } : {}),
      log,
    });
  }
  return createChdbStore({ dataDir: config.dataDir, database: clickhouse.database, log });
}
