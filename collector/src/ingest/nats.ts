import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import type { NatsConfig } from '../config.js';
import { CollectorError } from '../errors.js';
import type { Telemetry } from '../telemetry.js';

function connectionOptions(config: NatsConfig): NodeConnectionOptions {
  const options: NodeConnectionOptions = {
    servers: [...config.servers],
    name: config.name,
    inboxPrefix: config.inboxPrefix,
    // The stream buffers while we are away; keep trying to come back forever.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    timeout: 5000,
  };
  if (config.user !== undefined) {
    options.user = config.user;
    options.pass = config.pass ?? '';
  }
  if (config.token !== undefined) options.token = config.token;
  if (config.credsFile !== undefined) {
    options.authenticator = credsAuthenticator(new Uint8Array(readFileSync(config.credsFile)));
  }
  return options;
}

/**
 * Connect once (startup fails fast and clearly when NATS is unreachable or refuses
 * us), then let the client reconnect by itself; status changes are reported.
 */
export async function connectNats(
  config: NatsConfig,
  telemetry: Telemetry,
  onStatus: (connected: boolean) => void = () => undefined,
): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect(connectionOptions(config));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CollectorError(
      'NATS_SETUP',
      `cannot connect to NATS at ${config.servers.join(', ')}: ${reason}`,
      { cause: err },
    );
  }
  telemetry.natsStatus(true, nc.getServer());
  onStatus(true);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        telemetry.natsStatus(false, status.server);
        onStatus(false);
      } else if (status.type === 'reconnect') {
        telemetry.natsStatus(true, status.server);
        onStatus(true);
      }
    }
  })();
  return nc;
}
