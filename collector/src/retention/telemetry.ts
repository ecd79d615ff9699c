/**
 * Retention's lifecycle events: each function logs and counts together, so the two
 * never drift. Labels come from closed sets; org ids are logged, never used as labels.
 * Settings and the TTL enforcer register their own metrics, so each can be created
 * once per registry independently of the other.
 */
import { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';

export interface SettingsTelemetry {
  /** A setting changed, here (`local`) or on another collector (`watch`). */
  settingChanged(org: string, days: number | undefined, source: 'local' | 'watch'): void;
}

export function createSettingsTelemetry(
  log: Logger,
  registry: Registry = new Registry(),
  countOrgs: () => number = () => 0,
): SettingsTelemetry {
  const changes = registry.counter(
    'connlog_collector_retention_changes_total',
    'Retention settings changed, by where the change was made (local or seen by the KV watch)',
    ['source'],
  );
  const orgs = registry.gauge(
    'connlog_collector_retention_orgs',
    'Orgs with a retention setting of their own, in this collector\u2019s cache',
  );
  orgs.onCollect(() => orgs.set({}, countOrgs()));
  return {
    settingChanged(org, days, source) {
      changes.inc({ source });
      log.info({ org, days: days ?? 'default', source }, 'retention setting changed');
    },
  };
}

export interface TtlTelemetry {
  /** An org's existing rows were re-stamped (ALTER ... UPDATE retention_days). */
  rowsRestamped(org: string, storedDays: number, ms: number): void;
  restampFailed(org: string, err: unknown): void;
  /** One enforcement pass finished: `partitions` held expired rows and were rewritten. */
  enforced(partitions: number, ms: number): void;
  enforceFailed(err: unknown): void;
}

export function createTtlTelemetry(log: Logger, registry: Registry = new Registry()): TtlTelemetry {
  const restamps = registry.counter(
    'connlog_collector_retention_restamps_total',
    'ALTER UPDATE of retention_days on an org\u2019s existing rows, by outcome',
    ['outcome'],
  );
  const runs = registry.counter(
    'connlog_collector_ttl_enforce_runs_total',
    'TTL enforcement passes, by outcome',
    ['outcome'],
  );
  const partitions = registry.counter(
    'connlog_collector_ttl_partitions_rewritten_total',
    'Partitions the TTL enforcer had ClickHouse rewrite (MATERIALIZE TTL) because they held expired rows',
  );
  const lastRun = registry.gauge(
    'connlog_collector_ttl_last_success_timestamp_seconds',
    'When the last TTL enforcement pass succeeded (unix seconds)',
  );
  return {
    rowsRestamped(org, storedDays, ms) {
      restamps.inc({ outcome: 'ok' });
      log.info({ org, storedDays, ms }, 'existing rows re-stamped with the new retention');
    },
    restampFailed(org, err) {
      restamps.inc({ outcome: 'error' });
      log.error({ err, org }, 'could not apply the new retention to existing rows');
    },
    enforced(count, ms) {
      runs.inc({ outcome: 'ok' });
      partitions.inc({}, count);
      lastRun.set({}, Date.now() / 1000);
      if (count > 0) log.info({ partitions: count, ms }, 'expired rows removed');
    },
    enforceFailed(err) {
      runs.inc({ outcome: 'error' });
      log.error({ err }, 'TTL enforcement pass failed; expired rows may linger');
    },
  };
}
