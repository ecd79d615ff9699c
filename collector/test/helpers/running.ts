import type { JetStreamManager } from '@nats-io/jetstream';
import { waitFor } from '@connlog/testkit';
import { parseConfig, type CollectorConfig } from '../../src/config.js';

/**
 * The config of a collector run in a test: a small stream, quick flushes, the API on
 * a free port. `extra` adds top-level sections (`auth`, `retention`, …).
 */
export function runningConfig(
  dataDir: string,
  natsUrl: string,
  extra: Record<string, unknown> = {},
): CollectorConfig {
  return parseConfig({
    dataDir,
    nats: { servers: [natsUrl], stream: { maxBytes: '64MiB' } },
    ingest: { flushInterval: '100ms' },
    http: { listen: '127.0.0.1:0' },
    ...extra,
  });
}

/** Everything published so far was delivered to the collector and acked by it. */
export async function drained(jsm: JetStreamManager): Promise<void> {
  await waitFor(
    async () => {
      const info = await jsm.consumers.info('CONNLOG_SESSIONS', 'connlog-collector');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    20_000,
    'the collector to ack every published message',
  );
}
