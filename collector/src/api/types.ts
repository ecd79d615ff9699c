import type { Registry } from '@connlog/metrics';
import type { RetentionSettings, TtlEnforcer } from '../retention/index.js';
import type { Store } from '../store/store.js';
import type { Audit } from './audit.js';
import type { ApiTelemetry } from './telemetry.js';

/** What `/healthz` reports; `ok: false` answers 503. Other fields are the caller's. */
export interface HealthStatus {
  ok: boolean;
  [key: string]: unknown;
}

/** The part of the collector config the API reads. */
export interface ApiConfig {
  http: {
    /** `host:port` (`[v6]:port` for IPv6); port 0 picks a free port. */
    listen: string;
  };
}

/** What route handlers are built from. */
export interface RouteDeps {
  store: Store;
  metrics: Registry;
  telemetry: ApiTelemetry;
  health: () => HealthStatus;
  /** Clock for default time windows (ms since the epoch). */
  now: () => number;
  audit: Audit;
  /** `/metrics` needs a valid API key. */
  metricsAuth: boolean;
  retention: RetentionApi | undefined;
}

/** What the retention routes use: the settings (NATS KV) and, optionally, the enforcer. */
export interface RetentionApi {
  settings: Pick<RetentionSettings, 'get' | 'setting' | 'set' | 'defaultDays'>;
  /**
   * Re-stamps existing rows after a change (`TtlEnforcer.applyRetention`). Without it,
   * a change applies to rows stored from then on only.
   */
  ttl?: Pick<TtlEnforcer, 'applyRetention'>;
}
