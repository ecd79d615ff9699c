import { readFileSync } from 'node:fs';
import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import type { NatsConfig } from '../config/options.js';
import type { Telemetry } from '../telemetry.js';
import { backoffDelay, sleep } from './backoff.js';
import { Wake } from './wake.js';

/**
 * The agent's NATS connection. It is made in the background, so the agent starts and
 * proxies while NATS is unreachable: the first connect is retried forever with backoff
 * and jitter; afterwards the client reconnects by itself (`maxReconnectAttempts: -1`).
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private isConnected = false;
  private readonly abort = new AbortController();
  private readonly changed = new Wake();
  private running: Promise<void> | undefined;

  constructor(
    private readonly config: NatsConfig,
    private readonly telemetry: Telemetry,
    private readonly ackTimeoutMs: number,
  ) {}

  get connected(): boolean {
    return this.isConnected;
  }

  start(): void {
    this.running ??= this.connectLoop();
  }

  /** Resolves when connected, or after `timeoutMs`, or when closing. */
  async waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.isConnected) return true;
    await this.changed.wait(timeoutMs);
    return this.isConnected;
  }

  /** Publish one message to JetStream and wait for its ack. Throws when not connected. */
  async publish(subject: string, payload: Uint8Array, msgID: string): Promise<PubAck> {
    const js = this.js;
    if (js === undefined || !this.isConnected) throw new Error('not connected to NATS');
    return js.publish(subject, payload, { msgID, timeout: this.ackTimeoutMs });
  }

  /** Drain and close the connection; stop reconnecting. Idempotent. */
  async close(): Promise<void> {
    this.abort.abort();
    this.changed.notify();
    const nc = this.nc;
    if (nc !== undefined && !nc.isClosed()) {
      await nc.drain().catch(() => nc.close());
    }
    await this.running;
  }

  private options(): NodeConnectionOptions {
    const { config } = this;
    const options: NodeConnectionOptions = {
      servers: [...config.servers],
      name: config.name,
      inboxPrefix: config.inboxPrefix,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      reconnectJitter: 500,
      timeout: 5000,
    };
    if (config.user !== undefined) {
      options.user = config.user;
      options.pass = config.pass;
    }
    if (config.token !== undefined) options.token = config.token;
    if (config.credsFile !== undefined) {
      // Read at each connect so a rotated creds file is picked up.
      options.authenticator = credsAuthenticator(new Uint8Array(readFileSync(config.credsFile)));
    }
    return options;
  }

  private async connectLoop(): Promise<void> {
    const { signal } = this.abort;
    let attempt = 0;
    while (!signal.aborted) {
      let nc: NatsConnection;
      try {
        nc = await connect(this.options());
      } catch (err) {
        this.telemetry.stageFailed('connect', err, { servers: this.config.servers });
        await sleep(backoffDelay(attempt, 500, 15_000), signal);
        attempt += 1;
        continue;
      }
      if (signal.aborted) {
        await nc.close();
        return;
      }
      attempt = 0;
      this.nc = nc;
      this.js = jetstream(nc, { timeout: this.ackTimeoutMs });
      this.setConnected(true, nc.getServer());
      void this.watchStatus(nc);
      const closedWith = await nc.closed();
      this.setConnected(false, nc.getServer());
      this.nc = undefined;
      this.js = undefined;
      if (signal.aborted) return;
      // Closed by the server for good (e.g. authorization): start over with backoff.
      this.telemetry.stageFailed('connect', closedWith ?? new Error('connection closed'), {
        servers: this.config.servers,
      });
      await sleep(backoffDelay(attempt, 500, 15_000), signal);
      attempt += 1;
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') this.setConnected(false, status.server);
      else if (status.type === 'reconnect') this.setConnected(true, status.server);
    }
  }

  private setConnected(connected: boolean, server: string): void {
    if (this.isConnected === connected) return;
    this.isConnected = connected;
    if (connected) this.telemetry.natsConnected(server);
    else if (!this.abort.signal.aborted) this.telemetry.natsDisconnected(server);
    this.changed.notify();
  }
}
