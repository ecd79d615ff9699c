import type { Registry } from '@connlog/metrics';
import type { Store } from '../store/store.js';
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
}
