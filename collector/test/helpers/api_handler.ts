import { Registry } from '@connlog/metrics';
import { pino } from 'pino';
import { createApiHandler, type ApiHandler } from '../../src/api/server.js';
import type { Store } from '../../src/store/store.js';

/** Routes are built without touching the store; this one fails loudly if they do. */
const untouchable = new Proxy({} as Store, {
  get(_target, key) {
    if (key === 'database') return 'connlog';
    throw new Error(`unit test touched store.${String(key)}`);
  },
});

/**
 * The API handler as the server builds it, with no store, keys or live events behind
 * it: for tests that read its route table or the metrics it registers.
 */
export function offlineApiHandler(metrics = new Registry()): ApiHandler {
  return createApiHandler({
    store: untouchable,
    log: pino({ level: 'silent' }),
    metrics,
    config: { http: { listen: '127.0.0.1:0' } },
    health: () => ({ ok: true }),
    events: { onRowsStored: () => () => undefined },
  });
}
