/** API key lifecycle events: each logs and counts together. Never a secret in either. */
import { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import type { Role } from './authorize.js';

/** Why a presented credential was refused: a closed set, used as a label. */
export type AuthFailure = 'missing' | 'malformed' | 'unknown_key' | 'bad_secret';

export interface AuthTelemetry {
  created(id: string, role: Role, org: string, name: string): void;
  revoked(id: string): void;
  verified(): void;
  refused(reason: AuthFailure): void;
}

export function createAuthTelemetry(
  log: Logger,
  registry: Registry = new Registry(),
  countKeys: () => number = () => 0,
): AuthTelemetry {
  const checks = registry.counter(
    'connlog_collector_auth_checks_total',
    'API credentials checked, by result (ok, missing, malformed, unknown_key, bad_secret)',
    ['result'],
  );
  const changes = registry.counter(
    'connlog_collector_api_key_changes_total',
    'API keys created or revoked',
    ['change'],
  );
  const keys = registry.gauge('connlog_collector_api_keys', 'API keys known to this collector');
  keys.onCollect(() => keys.set({}, countKeys()));
  return {
    created(id, role, org, name) {
      changes.inc({ change: 'create' });
      log.info({ keyId: id, role, org, keyName: name }, 'API key created');
    },
    revoked(id) {
      changes.inc({ change: 'revoke' });
      log.info({ keyId: id }, 'API key revoked');
    },
    verified() {
      checks.inc({ result: 'ok' });
    },
    refused(reason) {
      // Counted, not logged per request: a scanner would flood the log.
      checks.inc({ result: reason });
    },
  };
}
