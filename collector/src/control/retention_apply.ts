/**
 * Applies retention changes to the rows this collector's store holds.
 *
 * Every collector applies every change it sees (its own, and the ones its KV watch
 * brings from other collectors or the CLI). With the embedded engine that is required:
 * each collector has its own store holding its share of the rows. With a shared
 * ClickHouse server the first collector's mutation does the work and the others'
 * find nothing left to change (`WHERE retention_days != days`; parts already right are
 * skipped), so the repetition is cheap and needs no election between collectors.
 *
 * The collector that made the change through `PUT …/retention` would start it twice:
 * once from its own settings listener, once from the route wanting to report the
 * outcome. `applyRetention` hands the route the run its listener already started.
 */
import type { Logger } from 'pino';
import type { RetentionApplied, TtlEnforcer } from '../retention/index.js';

export interface RetentionApplier {
  /** For `settings.onChange`: start applying, in the background (failures are logged). */
  changed(org: string, days: number): void;
  /** For the API: the run `changed` started for this value, or a new one. */
  applyRetention(org: string, days: number): Promise<RetentionApplied>;
  /** Resolves when every run started here settled. */
  settled(): Promise<void>;
}

export function createRetentionApplier(
  enforcer: Pick<TtlEnforcer, 'applyRetention'>,
  log: Logger,
): RetentionApplier {
  /** The newest run per org, while it runs. */
  const running = new Map<string, { days: number; run: Promise<RetentionApplied> }>();

  const start = (org: string, days: number): Promise<RetentionApplied> => {
    const run = enforcer.applyRetention(org, days);
    const entry = { days, run };
    running.set(org, entry);
    const forget = (): void => {
      if (running.get(org) === entry) running.delete(org);
    };
    run.then(forget, forget);
    return run;
  };

  return {
    changed(org, days) {
      start(org, days).catch((err: unknown) => {
        // The enforcer counted and logged the failure; the next start reconciles.
        log.debug({ err, org, days }, 'retention change not applied to existing rows');
      });
    },
    applyRetention(org, days) {
      const current = running.get(org);
      return current?.days === days ? current.run : start(org, days);
    },
    async settled() {
      await Promise.allSettled([...running.values()].map((entry) => entry.run));
    },
  };
}
