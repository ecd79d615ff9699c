import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';

/**
 * Live tail lifecycle events, each a log line and a metric together. Per-message
 * events are only counted: a log line per session sent would drown the log.
 */

/** Why a live client went away: a closed set, used as a label. */
export type LiveDisconnect = 'client' | 'slow_consumer' | 'heartbeat' | 'shutdown' | 'error';
export const LIVE_DISCONNECTS: readonly LiveDisconnect[] = [
  'client',
  'slow_consumer',
  'heartbeat',
  'shutdown',
  'error',
];

export interface LiveTelemetry {
  connected(org: string, clients: number): void;
  disconnected(org: string, reason: LiveDisconnect, sent: number, clients: number): void;
  /** Refused at the upgrade because the collector already has `maxClients`. */
  refusedFull(org: string, maxClients: number): void;
  sent(messages: number): void;
}

export function createLiveTelemetry(
  metrics: Registry,
  log: Logger,
  countClients: () => number,
): LiveTelemetry {
  const clients = metrics.gauge('connlog_collector_live_clients', 'Live tail clients connected');
  clients.onCollect(() => clients.set({}, countClients()));
  const messages = metrics.counter(
    'connlog_collector_live_messages_total',
    'Sessions sent to live tail clients (one per client per stored row that matched)',
  );
  const disconnects = metrics.counter(
    'connlog_collector_live_disconnects_total',
    'Live tail clients gone, by reason (client, slow_consumer, heartbeat, shutdown, error)',
    ['reason'],
  );
  const refused = metrics.counter(
    'connlog_collector_live_refused_total',
    'Live tail connections refused because the collector had its maximum of clients',
  );
  let fullLogged = false;
  return {
    connected(org, count) {
      fullLogged = false;
      log.info({ org, clients: count }, 'live tail client connected');
    },
    disconnected(org, reason, sent, count) {
      disconnects.inc({ reason });
      const fields = { org, reason, sent, clients: count };
      if (reason === 'slow_consumer') log.warn(fields, 'live tail client dropped: slow consumer');
      else log.info(fields, 'live tail client disconnected');
    },
    refusedFull(org, maxClients) {
      refused.inc();
      // Once per episode: the counter has the total.
      if (!fullLogged) {
        fullLogged = true;
        log.warn({ org, maxClients }, 'live tail full: refusing new clients');
      }
    },
    sent(count) {
      messages.inc({}, count);
    },
  };
}
