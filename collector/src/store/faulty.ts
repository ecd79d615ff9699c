/**
 * Fault injection for reliability tests of real processes: a `Store` wrapper whose
 * INSERTs into `sessions` (and `recording_gaps`) fail while the file
 * `<dataDir>/fault-insert-fail` exists.
 * A test (or an operator rehearsing an outage) creates the file, watches ingestion
 * nak and back off, removes it, and checks that nothing was lost.
 *
 * Armed only when `NODE_ENV=test` or `CONNLOG_FAULT_INJECTION=1`: never by default, so
 * a stray file in a production data dir does nothing. Reads, DDL and admin-action
 * inserts are untouched; one `existsSync` per session INSERT is the whole cost.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CollectorError } from '../errors.js';
import type { Store } from './store.js';

/** Name of the flag file, in the collector's `dataDir`. */
export const FAULT_INSERT_FAIL_FILE = 'fault-insert-fail';
/** Set to `1` to arm fault injection outside tests. */
export const FAULT_INJECTION_ENV = 'CONNLOG_FAULT_INJECTION';

/** Is fault injection armed in this environment? */
export function faultInjectionEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.NODE_ENV === 'test' || env[FAULT_INJECTION_ENV] === '1';
}

/** `store`, with session INSERTs failing while `<dataDir>/fault-insert-fail` exists. */
export function withInsertFaults(store: Store, dataDir: string, log: Logger): Store {
  const flag = join(dataDir, FAULT_INSERT_FAIL_FILE);
  log.warn({ flag }, 'fault injection armed: session inserts fail while this file exists');
  return {
    kind: store.kind,
    database: store.database,
    migrate: () => store.migrate(),
    insertSessions: async (rows, options) => {
      if (existsSync(flag)) {
        throw new CollectorError('STORE_INSERT', `injected insert failure (${flag} exists)`);
      }
      await store.insertSessions(rows, options);
    },
    newSessionPayload: () => store.newSessionPayload(),
    insertSessionPayload: async (payload, options) => {
      if (existsSync(flag)) {
        throw new CollectorError('STORE_INSERT', `injected insert failure (${flag} exists)`);
      }
      await store.insertSessionPayload(payload, options);
    },
    insertGaps: async (rows, options) => {
      if (existsSync(flag)) {
        throw new CollectorError('STORE_INSERT', `injected insert failure (${flag} exists)`);
      }
      await store.insertGaps(rows, options);
    },
    insertAdminActions: (rows, options) => store.insertAdminActions(rows, options),
    query: (sql, params, options) => store.query(sql, params, options),
    queryStream: (sql, params, format, options) => store.queryStream(sql, params, format, options),
    exec: (sql, params) => store.exec(sql, params),
    close: () => store.close(),
  };
}
