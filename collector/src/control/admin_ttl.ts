/**
 * Retention of the admin action log (config `adminLog.retentionDays`), enforced like
 * the sessions' retention: ClickHouse TTL on `timestamp + retention_days`, with the
 * same enforcement pass (MATERIALIZE TTL on the partitions holding expired rows) so
 * expired rows go in embedded mode too. No DELETE of our own.
 *
 * - New rows are stamped with the configured days (`stampRows`).
 * - At start, rows stamped with another value (the setting changed) are re-stamped by
 *   one mutation, queued in the background (`mutations_sync = 0`).
 */
import type { Logger } from 'pino';
import {
  expiredPartitionsSql,
  materializeTtlSql,
  ttlTables,
  type TtlTables,
} from '../retention/index.js';
import type { AdminActionRow, Store } from '../store/store.js';

export interface AdminTtlOptions {
  store: Pick<Store, 'query' | 'exec'>;
  log: Logger;
  retentionDays: number;
  /** @default "connlog" */
  database?: string;
  cluster?: string;
  /** Between passes; 0 = none (ClickHouse's own TTL merges only). */
  intervalMs: number;
}

export interface AdminTtl {
  /** The rows with `retention_days` set to the configured value. */
  stampRows(rows: readonly AdminActionRow[]): AdminActionRow[];
  /** Re-stamp older rows if needed, then run a pass every `intervalMs`. */
  start(): void;
  /** One pass: queue MATERIALIZE TTL on each partition with expired rows; returns their number. */
  runOnce(): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** Partitions (months) rewritten per pass at most. */
const MAX_PARTITIONS = 12;

function adminTables(options: AdminTtlOptions): TtlTables {
  const sessions = ttlTables({
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
  });
  return {
    ...sessions,
    dataTable: options.cluster === undefined ? 'admin_actions' : 'admin_actions_local',
    readTable: 'admin_actions',
  };
}

export function createAdminTtl(options: AdminTtlOptions): AdminTtl {
  const { store, log, retentionDays: days, intervalMs } = options;
  const t = adminTables(options);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let started = false;
  let running: Promise<number> | undefined;
  let startup: Promise<void> = Promise.resolve();

  const restamp = async (): Promise<void> => {
    const [row] = await store.query<{ n: number | string }>(
      `SELECT count() AS n FROM ${t.database}.${t.readTable} WHERE retention_days != {days:UInt16}`,
      { days },
    );
    const n = Number(row?.n ?? 0);
    if (n === 0) return;
    await store.exec(
      `ALTER TABLE ${t.database}.${t.dataTable}${t.onCluster} ` +
        `UPDATE retention_days = {days:UInt16} WHERE retention_days != {days:UInt16} ` +
        `SETTINGS mutations_sync = 0`,
      { days },
    );
    log.info({ rows: n, retentionDays: days }, 'admin action log re-stamped with its retention');
  };

  const pass = async (): Promise<number> => {
    const list = expiredPartitionsSql(t, MAX_PARTITIONS);
    const partitions = await store.query<{ partition_id: string }>(list.sql, list.params);
    for (const { partition_id: id } of partitions) {
      const statement = materializeTtlSql(t, id);
      await store.exec(statement.sql, statement.params);
    }
    if (partitions.length > 0) {
      log.info({ partitions: partitions.length }, 'expired admin actions queued for removal');
    }
    return partitions.length;
  };

  const runOnce = (): Promise<number> => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const schedule = (): void => {
    if (closed || intervalMs === 0) return;
    timer = setTimeout(() => {
      runOnce()
        .catch((err: unknown) => log.error({ err }, 'admin log TTL pass failed'))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  return {
    stampRows: (rows) => rows.map((row) => ({ ...row, retention_days: days })),
    start() {
      if (started || closed) return;
      started = true;
      startup = restamp()
        .catch((err: unknown) => log.error({ err }, 'cannot re-stamp the admin action log'))
        .then(() => (closed ? 0 : runOnce()))
        .then(
          () => undefined,
          (err: unknown) => log.error({ err }, 'admin log TTL pass failed'),
        );
      schedule();
    },
    runOnce,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await Promise.allSettled([startup, running]);
    },
  };
}
