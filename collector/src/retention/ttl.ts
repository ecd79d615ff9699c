/**
 * Makes retention real: re-stamps an org's existing rows when its retention changes,
 * and has ClickHouse apply TTL to the partitions that hold expired rows, so they
 * disappear within a known bound, in embedded mode too. ClickHouse TTL does the
 * deleting; there is no hand-made DELETE anywhere.
 *
 * Without this, expired rows go at the next TTL merge of their partition, which
 * ClickHouse schedules at most every `merge_with_ttl_timeout` per partition, and only
 * while the engine runs its background merges. With it, they are gone at most
 * `intervalMs` (plus one pass) after they expire.
 */
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import {
  RETENTION_DROP,
  RETENTION_FOREVER_STORED,
  RETENTION_MAX_DAYS,
  storedRetentionDays,
  validateOrgId,
  validateRetentionDays,
} from './days.js';
import { RetentionError } from './errors.js';
import { createTtlTelemetry } from './telemetry.js';
import {
  expiredPartitionsSql,
  materializeTtlSql,
  pendingMutationsSql,
  restampSql,
  stampedRetentionSql,
  ttlTables,
  type Statement,
} from './ttl_sql.js';

export interface TtlEnforcerOptions {
  store: Pick<Store, 'query' | 'exec'>;
  log: Logger;
  registry?: Registry;
  /**
   * Time between enforcement passes; 0 = never on a schedule (ClickHouse's own TTL
   * merges only, e.g. on a server whose merges are tuned).
   * @default 3600000 (1 h)
   */
  intervalMs?: number;
  /**
   * Partitions rewritten per pass at most; the rest wait for the next pass (oldest
   * go first).
   * @default 64
   */
  maxPartitionsPerRun?: number;
  /** @default "connlog" */
  database?: string;
  /** Cluster name: the ALTERs run ON CLUSTER on `sessions_local`. */
  cluster?: string;
  /**
   * How long to wait for ClickHouse to finish the mutations a change or a pass
   * queued; past it the call fails with RETENTION_APPLY (ClickHouse goes on with them).
   * @default 600000 (10 min)
   */
  mutationTimeoutMs?: number;
  /**
   * Poll interval while waiting for mutations.
   * @default 250
   */
  mutationPollMs?: number;
  /**
   * The `retention_days` each org's rows should carry (`RetentionSettings.storedDays`;
   * 0 = the org's events are dropped). When given, `start()` re-stamps rows that
   * disagree: changes that were stored but not applied (a collector stopped between
   * the two), and a changed `retention.defaultDays`.
   */
  expectedStoredDays?: (org: string) => number;
}

export interface RetentionApplied {
  org: string;
  days: number;
  /** The `retention_days` now on the org's rows; undefined when nothing was re-stamped (0). */
  storedDays: number | undefined;
  /** Partitions rewritten afterwards because they held expired rows. */
  partitionsRewritten: number;
}

export interface TtlEnforcer {
  /** Reconcile once (when `expectedStoredDays` is set), then run a pass every `intervalMs`. */
  start(): void;
  /**
   * Apply an org's new retention to its existing rows, then run a pass. For
   * `0` (do not store) existing rows are kept as they are: only new events are
   * dropped. Rejects with RETENTION_APPLY when ClickHouse refuses.
   */
  applyRetention(org: string, days: number): Promise<RetentionApplied>;
  /**
   * One pass now: apply TTL to every partition (up to the bound) that holds expired
   * rows; resolves with their number once ClickHouse is done.
   */
  runOnce(): Promise<number>;
  /** Re-stamp orgs whose rows disagree with `expected`; returns the orgs re-stamped. */
  reconcile(expected: (org: string) => number): Promise<string[]>;
  /** Stops the schedule and waits for a running pass. Idempotent. */
  close(): Promise<void>;
}

/** A value `retention_days` can hold: 1..RETENTION_MAX_DAYS or the forever stamp. */
function isStoredDays(value: number): boolean {
  return (
    Number.isInteger(value) &&
    ((value >= 1 && value <= RETENTION_MAX_DAYS) || value === RETENTION_FOREVER_STORED)
  );
}

export function createTtlEnforcer(options: TtlEnforcerOptions): TtlEnforcer {
  const { store, log } = options;
  const intervalMs = options.intervalMs ?? 3_600_000;
  const maxPartitions = options.maxPartitionsPerRun ?? 64;
  const mutationTimeoutMs = options.mutationTimeoutMs ?? 600_000;
  const mutationPollMs = options.mutationPollMs ?? 250;
  if (!Number.isInteger(intervalMs) || intervalMs < 0) {
    throw new RangeError(`intervalMs must be an integer >= 0, got ${intervalMs}`);
  }
  for (const [name, value] of [
    ['mutationTimeoutMs', mutationTimeoutMs],
    ['mutationPollMs', mutationPollMs],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
    }
  }
  if (!Number.isInteger(maxPartitions) || maxPartitions < 1) {
    throw new RangeError(`maxPartitionsPerRun must be an integer >= 1, got ${maxPartitions}`);
  }
  const tables = ttlTables({
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
  });
  const telemetry = createTtlTelemetry(log, options.registry);
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let closed = false;
  let startup: Promise<unknown> = Promise.resolve();
  // Passes never overlap: a second caller shares the pass in flight.
  let running: Promise<number> | undefined;
  // Mutations run one at a time, so two changes of one org land in order.
  let restamping: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = restamping.then(fn);
    restamping = next.catch(() => undefined);
    return next;
  };
  /** The newest `retention_days` applied per org, while a catch-up is due. */
  const latest = new Map<string, number>();
  /**
   * Orgs re-stamped recently: a batch stamped with the old value may have been in
   * flight when the mutation started (a mutation only touches parts that existed
   * then), so the next pass re-stamps them once more, with the newest value. The
   * predicate skips parts already right, so this is cheap.
   */
  const catchUp = new Set<string>();

  const exec = async (statement: Statement, what: string): Promise<void> => {
    try {
      await store.exec(statement.sql, statement.params);
    } catch (err) {
      throw new RetentionError('RETENTION_APPLY', `ClickHouse refused to ${what}`, { cause: err });
    }
  };

  /**
   * Wait until the table has no unfinished mutation. The ALTERs return once their
   * mutation is queued (see ttl_sql.ts); this is where the caller learns it is done.
   */
  const mutationsDone = async (what: string): Promise<void> => {
    const { sql, params } = pendingMutationsSql(tables);
    const deadline = Date.now() + mutationTimeoutMs;
    for (;;) {
      // count() is UInt64: a number from both stores, a string if a server quotes it.
      let row: { pending: number | string; failure: string } | undefined;
      try {
        [row] = await store.query<{ pending: number | string; failure: string }>(sql, params);
      } catch (err) {
        throw new RetentionError('RETENTION_APPLY', `cannot follow the mutation to ${what}`, {
          cause: err,
        });
      }
      if (!row || Number(row.pending) === 0) return;
      if (Date.now() >= deadline) {
        const failure = row.failure === '' ? '' : `; last failure: ${row.failure}`;
        throw new RetentionError(
          'RETENTION_APPLY',
          `the mutation to ${what} is still running after ${mutationTimeoutMs} ms (ClickHouse goes on with it)${failure}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, mutationPollMs));
    }
  };

  const restamp = async (org: string, stored: number): Promise<void> => {
    const t0 = Date.now();
    const what = `re-stamp the rows of ${org}`;
    try {
      await exec(restampSql(tables, org, stored), what);
      await mutationsDone(what);
    } catch (err) {
      telemetry.restampFailed(org, err);
      throw err;
    }
    telemetry.rowsRestamped(org, stored, Date.now() - t0);
  };

  const pass = async (): Promise<number> => {
    const t0 = Date.now();
    try {
      const due = [...catchUp];
      catchUp.clear();
      for (const org of due) {
        await serial(async () => {
          const stored = latest.get(org);
          if (stored !== undefined) await restamp(org, stored);
        });
        if (!catchUp.has(org)) latest.delete(org);
      }
      const { sql, params } = expiredPartitionsSql(tables, maxPartitions);
      let partitions: { partition_id: string }[];
      try {
        partitions = await store.query<{ partition_id: string }>(sql, params);
      } catch (err) {
        throw new RetentionError('RETENTION_APPLY', 'cannot list expired partitions', {
          cause: err,
        });
      }
      for (const { partition_id: id } of partitions) {
        await exec(materializeTtlSql(tables, id), `apply TTL to partition ${id}`);
      }
      if (partitions.length > 0) await mutationsDone('apply TTL to expired partitions');
      telemetry.enforced(partitions.length, Date.now() - t0);
      return partitions.length;
    } catch (err) {
      telemetry.enforceFailed(err);
      throw err;
    }
  };

  const runOnce = (): Promise<number> => {
    if (closed)
      return Promise.reject(new RetentionError('RETENTION_CLOSED', 'TTL enforcer is closed'));
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const applyRetention = async (org: string, days: number): Promise<RetentionApplied> => {
    if (closed) throw new RetentionError('RETENTION_CLOSED', 'TTL enforcer is closed');
    validateOrgId(org);
    validateRetentionDays(days, 'days');
    if (days === RETENTION_DROP)
      return { org, days, storedDays: undefined, partitionsRewritten: 0 };
    const stored = storedRetentionDays(days);
    latest.set(org, stored);
    catchUp.delete(org);
    await serial(() => restamp(org, latest.get(org) ?? stored));
    const partitionsRewritten = await runOnce();
    // Re-stamped once more by the next pass, not by this one.
    catchUp.add(org);
    return { org, days, storedDays: stored, partitionsRewritten };
  };

  const reconcile = async (expected: (org: string) => number): Promise<string[]> => {
    const { sql, params } = stampedRetentionSql(tables);
    let rows: { org_id: string; retention_days: number }[];
    try {
      rows = await store.query<{ org_id: string; retention_days: number }>(sql, params);
    } catch (err) {
      throw new RetentionError('RETENTION_APPLY', 'cannot read the retention stamped on rows', {
        cause: err,
      });
    }
    const done: string[] = [];
    for (const { org_id: org, retention_days: stamped } of rows) {
      const want = expected(org);
      if (want === 0 || want === stamped || done.includes(org)) continue;
      if (!isStoredDays(want)) {
        log.warn({ org, want }, 'reconcile: not a retention_days value; org skipped');
        continue;
      }
      log.warn(
        { org, stamped, want },
        'rows carry another retention than the setting; re-stamping',
      );
      await serial(() => restamp(org, want));
      done.push(org);
    }
    return done;
  };

  const schedule = (): void => {
    if (closed || intervalMs === 0) return;
    timer = setTimeout(() => {
      runOnce()
        .catch(() => undefined) // counted and logged by the pass
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  return {
    start() {
      if (closed || started) return;
      started = true;
      const first = options.expectedStoredDays
        ? reconcile(options.expectedStoredDays).catch((err: unknown) => {
            log.error({ err }, 'retention reconcile failed; will not retry until restart');
          })
        : Promise.resolve();
      startup = first.then(() => (closed ? undefined : runOnce().catch(() => undefined)));
      schedule();
    },
    applyRetention,
    runOnce,
    reconcile,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await Promise.allSettled([startup, running, restamping]);
    },
  };
}
