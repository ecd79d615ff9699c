/**
 * Per-org retention, stored in the NATS KV bucket `connlog_retention` (key = org id,
 * value JSON `{ days, updatedAt, updatedBy }`) so every collector of a deployment
 * sees the same value. Each collector keeps a copy current through a KV watch, so a
 * change made on one collector is used by all within about a second, with no restart.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import { createKvMirror, type KvMirror } from '../admin/kv_mirror.js';
import {
  RETENTION_DROP,
  storedRetentionDays,
  validateOrgId,
  validateRetentionDays,
} from './days.js';
import { RetentionError } from './errors.js';
import { createSettingsTelemetry } from './telemetry.js';

/** Bucket holding one key per org with a setting of its own. */
export const RETENTION_BUCKET = 'connlog_retention';

/** What the bucket stores per org. */
export interface RetentionSetting {
  /** -1 = keep forever, 0 = do not store, otherwise days. */
  days: number;
  /** RFC 3339. */
  updatedAt: string;
  /** Who changed it, as the caller describes the actor (`api_key:<id>`, `cli:<user>`). */
  updatedBy: string;
}

export interface RetentionSettingsOptions {
  nc: NatsConnection;
  /** Retention of orgs without a setting (config `retention.defaultDays`). */
  defaultDays: number;
  log: Logger;
  registry?: Registry;
  /** @default "connlog_retention" */
  bucket?: string;
  /** Replicas of the KV stream on a NATS cluster. @default 1 */
  replicas?: number;
}

export interface RetentionSettings {
  /** The global default (config `retention.defaultDays`). */
  readonly defaultDays: number;
  /**
   * The org's retention in days (-1 forever, 0 do not store): its own setting, else
   * the default. Synchronous, from the local copy: safe to call per batch.
   */
  get(org: string): number;
  /**
   * The `retention_days` to stamp on the org's rows, or 0 when its events must be
   * dropped (acked and counted, never inserted).
   */
  storedDays(org: string): number;
  /** The org's own setting, if it has one. */
  setting(org: string): RetentionSetting | undefined;
  /**
   * Store a setting for every collector. Resolves once NATS has it; this collector's
   * copy already reflects it then. Throws RETENTION_INVALID naming a bad value.
   */
  set(org: string, days: number, actor: string): Promise<RetentionSetting>;
  /** Every org with a setting of its own, sorted by org id. */
  list(): ({ org: string } & RetentionSetting)[];
  /** Called on every change (here or elsewhere); returns the unsubscribe function. */
  onChange(listener: (org: string, days: number) => void): () => void;
  /** Stops the watch. Idempotent. */
  close(): Promise<void>;
}

/** Open (or create) the bucket and load its content; resolves when `get` is current. */
export async function createRetentionSettings(
  options: RetentionSettingsOptions,
): Promise<RetentionSettings> {
  const { log } = options;
  const defaultDays = validateRetentionDays(options.defaultDays, 'retention.defaultDays');
  const bucket = options.bucket ?? RETENTION_BUCKET;
  let kv: KV;
  try {
    kv = await new Kvm(options.nc).create(bucket, {
      history: 1,
      replicas: options.replicas ?? 1,
      description: 'connlog: retention in days per org',
    });
  } catch (err) {
    throw new RetentionError('RETENTION_UNAVAILABLE', `cannot open NATS KV bucket ${bucket}`, {
      cause: err,
    });
  }
  const listeners = new Set<(org: string, days: number) => void>();
  const countOrgs = (): number => mirror?.size ?? 0;
  const telemetry = createSettingsTelemetry(log, options.registry, countOrgs);
  const mirror: KvMirror<RetentionSetting> = createKvMirror<RetentionSetting>({
    kv,
    log,
    what: bucket,
    parse: (key, entry) => parseSetting(key, entry.json<unknown>()),
    onChange: (org, setting, source) => {
      telemetry.settingChanged(org, setting?.days, source);
      const days = setting?.days ?? defaultDays;
      for (const listener of listeners) {
        try {
          listener(org, days);
        } catch (err) {
          log.error({ err, org }, 'retention change listener failed');
        }
      }
    },
  });
  try {
    await mirror.ready;
  } catch (err) {
    await mirror.close();
    throw new RetentionError('RETENTION_UNAVAILABLE', `cannot read NATS KV bucket ${bucket}`, {
      cause: err,
    });
  }
  let closed = false;

  const get = (org: string): number => mirror.get(org)?.days ?? defaultDays;

  return {
    defaultDays,
    get,
    storedDays: (org) => {
      const days = get(org);
      return days === RETENTION_DROP ? 0 : storedRetentionDays(days);
    },
    setting: (org) => mirror.get(org),
    async set(org, days, actor) {
      if (closed) throw new RetentionError('RETENTION_CLOSED', 'retention settings are closed');
      validateOrgId(org);
      const value: RetentionSetting = {
        days: validateRetentionDays(days, 'days'),
        updatedAt: new Date().toISOString(),
        updatedBy: actor,
      };
      let revision: number;
      try {
        revision = await kv.put(org, JSON.stringify(value));
      } catch (err) {
        throw new RetentionError('RETENTION_UNAVAILABLE', `cannot store the retention of ${org}`, {
          cause: err,
        });
      }
      mirror.update(org, value, revision);
      return value;
    },
    list: () =>
      mirror
        .entries()
        .map(([org, setting]) => ({ org, ...setting }))
        .sort((a, b) => (a.org < b.org ? -1 : a.org > b.org ? 1 : 0)),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      await mirror.close();
    },
  };
}

/** A stored value, checked: a bad one (older or newer collector, hand edit) is ignored. */
function parseSetting(org: string, raw: unknown): RetentionSetting {
  validateOrgId(org, 'KV key');
  if (typeof raw !== 'object' || raw === null) {
    throw new RetentionError('RETENTION_INVALID', `value of ${org} is not a JSON object`);
  }
  const value = raw as Record<string, unknown>;
  return {
    days: validateRetentionDays(value.days, `days of ${org}`),
    updatedAt: typeof value.updatedAt === 'string' ? value.updatedAt : '',
    updatedBy: typeof value.updatedBy === 'string' ? value.updatedBy : '',
  };
}
