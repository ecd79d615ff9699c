/**
 * The admin action log: every admin action (retention change, API key creation,
 * export, SQL query...) becomes a row of `connlog.admin_actions`.
 *
 * Records are batched a little (up to `maxBatch` rows or `flushIntervalMs`) so a burst
 * of exports does not become a burst of tiny INSERTs. `record()` resolves when its row
 * is in ClickHouse; callers that must not answer before the audit row exists await
 * it, others need not. A failed INSERT keeps the rows and retries them (with the same
 * deduplication token, so a retry of an INSERT that did land is dropped). At most
 * `maxBuffered` rows wait: past that `record()` rejects with ADMIN_LOG_FULL, counted
 * and logged once — the caller decides whether to refuse the action.
 */
import { randomUUID } from 'node:crypto';
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import type { AdminActionRow, Store } from '../store/store.js';
import {
  ACTOR_TYPES,
  OUTCOMES,
  isAdminAction,
  type ActorType,
  type AdminAction,
  type Outcome,
} from './actions.js';
import { AdminLogError } from './errors.js';
import { redactMetadata } from './redact.js';
import { createAdminLogTelemetry } from './telemetry.js';
import { queryAdminActions, type AdminActionPage, type AdminActionQuery } from './query.js';

export interface AdminActionRecord {
  /** The org the action applies to; '' for actions that are not about one org. */
  orgId: string;
  action: AdminAction;
  actorType: ActorType;
  /** Human-readable actor: user name, API key name, OS user. */
  actor: string;
  /** Stable actor id: user id, API key id. */
  actorId: string;
  outcome: Outcome;
  /** Details; values under secret-looking keys are redacted (see redact.ts). */
  metadata?: Record<string, unknown>;
  /** When it happened; default now. */
  at?: Date;
}

export interface AdminLogOptions {
  store: Pick<Store, 'insertAdminActions' | 'query'>;
  log: Logger;
  registry?: Registry;
  /** @default "connlog" */
  database?: string;
  /** Rows per INSERT at most. @default 100 */
  maxBatch?: number;
  /** Longest a record waits for its INSERT, in ms. @default 1000 */
  flushIntervalMs?: number;
  /** Rows waiting (including retries) at most; past it `record()` rejects. @default 10000 */
  maxBuffered?: number;
  /** Delay before retrying a failed INSERT, in ms. @default 2000 */
  retryDelayMs?: number;
}

export interface AdminLog {
  /** Buffer the record; resolves once its row is in ClickHouse. */
  record(record: AdminActionRecord): Promise<void>;
  /** Newest first, keyset pagination. */
  query(query: AdminActionQuery): Promise<AdminActionPage>;
  /** Insert what is buffered now; resolves when done (or failed, rows kept). */
  flush(): Promise<void>;
  /** Flush (one last attempt) and stop. Idempotent. */
  close(): Promise<void>;
}

interface Pending {
  row: AdminActionRow;
  done: () => void;
  fail: (err: Error) => void;
}

const ORG = /^[A-Za-z0-9_-]{0,64}$/;

export function createAdminLog(options: AdminLogOptions): AdminLog {
  const { store, log } = options;
  const maxBatch = positive(options.maxBatch ?? 100, 'maxBatch');
  const flushIntervalMs = positive(options.flushIntervalMs ?? 1000, 'flushIntervalMs');
  const maxBuffered = positive(options.maxBuffered ?? 10_000, 'maxBuffered');
  const retryDelayMs = positive(options.retryDelayMs ?? 2000, 'retryDelayMs');
  const database = options.database ?? 'connlog';
  let queue: Pending[] = [];
  const telemetry = createAdminLogTelemetry(log, options.registry, () => queue.length);
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let closed = false;
  // A batch keeps its token across retries so ClickHouse drops a replay of an INSERT
  // that landed although we saw an error.
  let retryToken: { rows: number; token: string } | undefined;

  const schedule = (ms: number): void => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, ms);
    timer.unref();
  };

  const insertBatch = async (): Promise<boolean> => {
    // A retry sends exactly the rows of the failed attempt, under the same token.
    const size = retryToken?.rows ?? Math.min(queue.length, maxBatch);
    const batch = queue.slice(0, size);
    if (batch.length === 0) return true;
    retryToken ??= { rows: size, token: randomUUID() };
    const t0 = Date.now();
    try {
      await store.insertAdminActions(
        batch.map((p) => p.row),
        { dedupToken: retryToken.token },
      );
    } catch (err) {
      telemetry.flushFailed(batch.length, err);
      return false;
    }
    retryToken = undefined;
    queue = queue.slice(batch.length);
    telemetry.flushed(batch.length, Date.now() - t0);
    for (const p of batch) p.done();
    return true;
  };

  const flushOnce = async (): Promise<boolean> => {
    while (queue.length > 0) {
      if (!(await insertBatch())) return false;
    }
    return true;
  };

  const flush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    flushing ??= flushOnce()
      .then((ok) => {
        if (!ok) schedule(retryDelayMs);
      })
      .finally(() => {
        flushing = undefined;
      });
    return flushing;
  };

  const record = (input: AdminActionRecord): Promise<void> => {
    if (closed) return Promise.reject(new AdminLogError('ADMIN_LOG_CLOSED', 'admin log is closed'));
    let row: AdminActionRow;
    try {
      row = toRow(input);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    telemetry.recorded(input.action, input.outcome);
    if (queue.length >= maxBuffered) {
      telemetry.refused(input.action);
      return Promise.reject(
        new AdminLogError(
          'ADMIN_LOG_FULL',
          `admin log buffer full (${maxBuffered} records waiting for ClickHouse)`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      queue.push({ row, done: resolve, fail: reject });
      if (queue.length >= maxBatch) void flush();
      else schedule(flushIntervalMs);
    });
  };

  return {
    record,
    query: (q) => queryAdminActions(store, database, q),
    flush,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await flushing;
      const ok = await flushOnce();
      if (!ok) {
        const err = new AdminLogError(
          'ADMIN_LOG_CLOSED',
          'admin log closed before ClickHouse accepted this record',
        );
        telemetry.lostAtClose(queue.length, err);
        for (const p of queue) p.fail(err);
        queue = [];
      }
    },
  };
}

function toRow(input: AdminActionRecord): AdminActionRow {
  if (typeof input.orgId !== 'string' || !ORG.test(input.orgId)) {
    throw invalid('orgId', 'must be 0-64 characters of letters, digits, "_" or "-"', input.orgId);
  }
  if (!isAdminAction(input.action))
    throw invalid('action', 'is not a known admin action', input.action);
  if (!(ACTOR_TYPES as readonly string[]).includes(input.actorType)) {
    throw invalid('actorType', `must be one of ${ACTOR_TYPES.join(', ')}`, input.actorType);
  }
  if (!(OUTCOMES as readonly string[]).includes(input.outcome)) {
    throw invalid('outcome', `must be one of ${OUTCOMES.join(', ')}`, input.outcome);
  }
  const at = input.at ?? new Date();
  if (Number.isNaN(at.getTime())) throw invalid('at', 'is not a valid date', String(input.at));
  return {
    timestamp: at.getTime(),
    org_id: input.orgId,
    action: input.action,
    actor_type: input.actorType,
    actor: bounded(input.actor),
    actor_id: bounded(input.actorId),
    outcome: input.outcome,
    metadata: JSON.stringify(redactMetadata(input.metadata ?? {})),
  };
}

function bounded(text: unknown): string {
  return typeof text === 'string' ? text.slice(0, 256) : '';
}

function invalid(field: string, why: string, value: unknown): AdminLogError {
  return new AdminLogError(
    'ADMIN_LOG_INVALID',
    `admin action ${field} ${why}, got ${JSON.stringify(value)?.slice(0, 80) ?? String(value)}`,
  );
}

function positive(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be an integer >= 1, got ${value}`);
  }
  return value;
}
