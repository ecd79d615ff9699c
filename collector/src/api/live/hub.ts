import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { SessionRow } from '../../store/store.js';
import type { LiveFilters } from '../filters/parse.js';
import { sessionRowToItem } from './item.js';
import { compileFilters } from './match.js';
import type { RowPredicate } from './match.js';
import { createLiveTelemetry } from './telemetry.js';
import type { LiveDisconnect } from './telemetry.js';

/**
 * The WebSocket live tail: every row the collector stores is offered to the clients
 * of its org whose filters match, as `{ type: 'session', data: <item> }`.
 *
 * Ingestion never waits for a client. The rows-stored listener runs synchronously in
 * the insert path, so per row and client it only evaluates a compiled predicate and
 * hands a string (serialized once per row) to the socket.
 *
 * Each client's backlog is bounded by messages not yet handed to the kernel and by
 * `ws.bufferedAmount`. The bounds are checked when a stored batch arrives, before any
 * of it is queued: a client still over either bound then has not drained what it had
 * during a whole insert cycle, and is a slow consumer. It gets no more messages, is
 * sent close 1013 "slow consumer" behind what it already has, and is cut after a grace
 * period if it does not read that far. Within one batch every matching row is queued,
 * so a burst never drops a client that keeps up, and the memory held per client is at
 * most its bound plus one insert batch (bounded by `ingest.maxBatchRows`).
 */

export interface LiveEvents {
  onRowsStored(listener: (rows: readonly SessionRow[]) => void): () => void;
}

export interface LiveTailOptions {
  events: LiveEvents;
  log: Logger;
  metrics: Registry;
  /** Clients per collector; more are refused with 503. @default 100 */
  maxClients?: number;
  /** Messages queued for one client (sent, not yet flushed to the socket). @default 1000 */
  maxBufferedMessages?: number;
  /** Bytes queued for one client (`ws.bufferedAmount`). @default 1048576 (1 MiB) */
  maxBufferedBytes?: number;
  /** Ping interval; a client that has not answered the previous ping is cut. @default 30000 */
  heartbeatMs?: number;
  /** How long a dropped slow client may take to read up to the close frame. @default 5000 */
  slowCloseGraceMs?: number;
  /** Clock for `inserted_at` of the items. @default Date.now */
  now?: () => number;
}

/** What the upgrade request asked for, validated by the caller. */
export interface LiveSubscription {
  org: string;
  filters: LiveFilters;
  /** The filter parameters as given (echoed in the hello message). */
  query: Record<string, string[]>;
}

export interface LiveTail {
  /** Whether one more client would be accepted now. */
  hasRoom(): boolean;
  /** Complete the WebSocket handshake and start sending. Call after `hasRoom()`. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, subscription: LiveSubscription): void;
  /** Count a client refused because `hasRoom()` said no. */
  refused(org: string): void;
  readonly clients: number;
  readonly maxClients: number;
  /** Close every client with 1001 and stop listening for rows. Idempotent. */
  close(): Promise<void>;
}

/** Close codes sent by the server. */
export const LIVE_CLOSE = {
  /** RFC 6455 "going away": the collector is shutting down. */
  SHUTDOWN: 1001,
  /** RFC 6455 "try again later": the client did not keep up. */
  SLOW_CONSUMER: 1013,
} as const;

/** Client → server frames are never needed; this bounds what one can cost. */
const MAX_INCOMING_BYTES = 4096;
/** Longest `close()` waits for clients to answer the close frame before cutting them. */
const SHUTDOWN_WAIT_MS = 1000;

interface Client {
  ws: WebSocket;
  org: string;
  match: RowPredicate;
  /** Messages handed to the socket whose write callback has not run yet. */
  pending: number;
  sent: number;
  alive: boolean;
  /** Set when the server decided to end the connection, so the reason is ours. */
  ending?: LiveDisconnect;
  graceTimer?: NodeJS.Timeout;
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`live tail option ${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}

export function createLiveTail(options: LiveTailOptions): LiveTail {
  const { log } = options;
  const maxClients = positiveInt(options.maxClients ?? 100, 'maxClients');
  const maxMessages = positiveInt(options.maxBufferedMessages ?? 1000, 'maxBufferedMessages');
  const maxBytes = positiveInt(options.maxBufferedBytes ?? 1 << 20, 'maxBufferedBytes');
  const heartbeatMs = positiveInt(options.heartbeatMs ?? 30_000, 'heartbeatMs');
  const graceMs = positiveInt(options.slowCloseGraceMs ?? 5000, 'slowCloseGraceMs');
  const now = options.now ?? Date.now;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_INCOMING_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  /** Receiving clients by org. A dropped client leaves its set at once. */
  const byOrg = new Map<string, Set<Client>>();
  const all = new Set<Client>();
  // Handshakes in progress count against maxClients too.
  let upgrading = 0;
  const telemetry = createLiveTelemetry(options.metrics, log, () => all.size);
  let unsubscribe: (() => void) | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  let onEmpty: (() => void) | undefined;

  const stopReceiving = (client: Client): void => {
    const group = byOrg.get(client.org);
    group?.delete(client);
    if (group?.size === 0) byOrg.delete(client.org);
  };

  const end = (client: Client, reason: LiveDisconnect, code: number, text: string): void => {
    if (client.ending) return;
    client.ending = reason;
    stopReceiving(client);
    // Counted now: the socket of a client that does not read may take a while to go.
    telemetry.disconnected(client.org, reason, client.sent, all.size - 1);
    client.ws.close(code, text);
    // A client that does not read never sees the close frame: cut it after the grace.
    client.graceTimer = setTimeout(() => client.ws.terminate(), graceMs);
    client.graceTimer.unref();
  };

  const deliver = (client: Client, text: string): void => {
    client.pending += 1;
    client.sent += 1;
    client.ws.send(text, () => {
      client.pending -= 1;
    });
  };

  const dropSlow = (): void => {
    for (const group of byOrg.values()) {
      for (const client of group) {
        if (client.pending >= maxMessages || client.ws.bufferedAmount > maxBytes) {
          end(client, 'slow_consumer', LIVE_CLOSE.SLOW_CONSUMER, 'slow consumer');
        }
      }
    }
  };

  const onRows = (rows: readonly SessionRow[]): void => {
    dropSlow();
    let sent = 0;
    const insertedAt = now();
    for (const row of rows) {
      const group = byOrg.get(row.org_id);
      if (!group) continue;
      let text: string | undefined;
      for (const client of group) {
        if (!client.match(row)) continue;
        text ??= JSON.stringify({ type: 'session', data: sessionRowToItem(row, insertedAt) });
        deliver(client, text);
        sent += 1;
      }
    }
    if (sent > 0) telemetry.sent(sent);
  };

  const beat = (): void => {
    for (const client of all) {
      if (client.ending) continue;
      if (!client.alive) {
        client.ending = 'heartbeat';
        stopReceiving(client);
        telemetry.disconnected(client.org, 'heartbeat', client.sent, all.size - 1);
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  };

  // Listen for rows only while someone tails: no cost on the insert path otherwise.
  const started = (): void => {
    unsubscribe ??= options.events.onRowsStored(onRows);
    if (!heartbeat) {
      heartbeat = setInterval(beat, heartbeatMs);
      heartbeat.unref();
    }
  };
  const idle = (): void => {
    if (all.size > 0 || upgrading > 0) return;
    unsubscribe?.();
    unsubscribe = undefined;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
  };

  const open = (ws: WebSocket, subscription: LiveSubscription): void => {
    const client: Client = {
      ws,
      org: subscription.org,
      match: compileFilters(subscription.filters),
      pending: 0,
      sent: 0,
      alive: true,
    };
    all.add(client);
    ws.on('pong', () => {
      client.alive = true;
    });
    // Nothing is expected from the client; its frames are read and dropped.
    ws.on('message', () => undefined);
    let failed = false;
    ws.on('error', () => {
      failed = true;
    });
    ws.on('close', () => {
      if (client.graceTimer) clearTimeout(client.graceTimer);
      stopReceiving(client);
      all.delete(client);
      // Ends the server decided were counted when decided.
      if (!client.ending) {
        telemetry.disconnected(client.org, failed ? 'error' : 'client', client.sent, all.size);
      }
      idle();
      if (all.size === 0) onEmpty?.();
    });
    if (closing) {
      client.ending = 'shutdown';
      telemetry.disconnected(client.org, 'shutdown', 0, all.size - 1);
      ws.close(LIVE_CLOSE.SHUTDOWN, 'collector shutting down');
      return;
    }
    let group = byOrg.get(client.org);
    if (!group) {
      group = new Set();
      byOrg.set(client.org, group);
    }
    group.add(client);
    telemetry.connected(client.org, all.size);
    ws.send(
      JSON.stringify({
        type: 'hello',
        org: subscription.org,
        filters: subscription.query,
        limits: { maxBufferedMessages: maxMessages, maxBufferedBytes: maxBytes, heartbeatMs },
      }),
    );
  };

  return {
    get clients() {
      return all.size;
    },
    maxClients,
    hasRoom: () => !closing && all.size + upgrading < maxClients,
    accept(req, socket, head, subscription) {
      upgrading += 1;
      started();
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        upgrading -= 1;
      };
      // A handshake ws refuses (bad key, version) never calls back: the socket closes.
      socket.once('close', () => {
        if (settled) return;
        settle();
        idle();
      });
      wss.handleUpgrade(req, socket, head, (ws) => {
        settle();
        open(ws, subscription);
      });
    },
    refused(org) {
      telemetry.refusedFull(org, maxClients);
    },
    close() {
      closing ??= (async () => {
        for (const client of all) {
          if (client.ending) continue;
          client.ending = 'shutdown';
          stopReceiving(client);
          telemetry.disconnected(client.org, 'shutdown', client.sent, all.size - 1);
          client.ws.close(LIVE_CLOSE.SHUTDOWN, 'collector shutting down');
        }
        if (all.size > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
            onEmpty = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        for (const client of all) client.ws.terminate();
        unsubscribe?.();
        unsubscribe = undefined;
        if (heartbeat) clearInterval(heartbeat);
        heartbeat = undefined;
        wss.close();
      })();
      return closing;
    },
  };
}
