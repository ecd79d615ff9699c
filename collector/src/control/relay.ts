/**
 * The admin actions of `connlog-collector` CLI commands (API keys, retention), relayed
 * to the admin log through JetStream.
 *
 * The CLI works directly on NATS KV and cannot write to the store: the embedded engine
 * belongs to the running collector's process. So the CLI publishes each action to the
 * work-queue stream `CONNLOG_ADMIN` and waits for JetStream's ack; the collectors share
 * one durable consumer on it, and whichever gets the message records it in
 * `admin_actions`, then acks. The record is durable from the moment the CLI reports
 * success, and a collector that is down records it when it comes back.
 *
 * Delivery is at least once: a collector that dies between its INSERT and its ack
 * leaves the message to be recorded again; the row carries the message's `id` in its
 * metadata (`relayId`), so such a duplicate is recognisable.
 */
import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import { isAdminAction, OUTCOMES, type AdminLog, type AdminActionRecord } from '../admin/index.js';

export const ADMIN_RELAY_STREAM = 'CONNLOG_ADMIN';
export const ADMIN_RELAY_SUBJECT = 'connlog.v1.admin.actions';
export const ADMIN_RELAY_CONSUMER = 'connlog-admin-log';

/**
 * Bounds of the stream. Actions are rare (a person at a terminal); 64 MiB holds
 * hundreds of thousands. When full, publishes are refused (`discard: new`): the CLI
 * fails loudly instead of an action going unrecorded.
 */
const STREAM_MAX_BYTES = 64 * 1024 ** 2;
const STREAM_MAX_AGE_MS = 30 * 86_400_000;
const DUPLICATE_WINDOW_MS = 120_000;
/** Messages one collector holds unacked; each waits for an admin log INSERT. */
const MAX_ACK_PENDING = 100;
const ACK_WAIT_MS = 60_000;
/** Delay before a message whose INSERT failed is delivered again. */
const RETRY_DELAY_MS = 5_000;
/** A message larger than this is not a CLI action. */
const MAX_MESSAGE_BYTES = 64 * 1024;

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const nanos = (ms: number): number => ms * 1_000_000;

/** What the CLI publishes: an admin action done outside a collector. */
export interface RelayedAction {
  /** Unique per action: the `Nats-Msg-Id`, and `relayId` in the row's metadata. */
  id: string;
  /** RFC 3339: when the action happened (not when it was recorded). */
  at: string;
  orgId: string;
  action: AdminActionRecord['action'];
  actor: string;
  actorId: string;
  outcome: AdminActionRecord['outcome'];
  metadata: Record<string, unknown>;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Create the stream and the shared durable consumer when missing (idempotent). */
export async function ensureAdminRelay(nc: NatsConnection, replicas = 1): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(ADMIN_RELAY_STREAM);
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
    await jsm.streams
      .add({
        name: ADMIN_RELAY_STREAM,
        subjects: [ADMIN_RELAY_SUBJECT],
        storage: StorageType.File,
        // Removed once a collector acked it, i.e. once it is in admin_actions.
        retention: RetentionPolicy.Workqueue,
        discard: DiscardPolicy.New,
        max_bytes: STREAM_MAX_BYTES,
        max_age: nanos(STREAM_MAX_AGE_MS),
        max_msg_size: MAX_MESSAGE_BYTES,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
        num_replicas: replicas,
      })
      .catch(async (addErr: unknown) => {
        // Another collector (or a CLI) created it in between.
        await jsm.streams.info(ADMIN_RELAY_STREAM).catch(() => {
          throw addErr;
        });
      });
  }
  try {
    await jsm.consumers.info(ADMIN_RELAY_STREAM, ADMIN_RELAY_CONSUMER);
  } catch (err) {
    if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
    await jsm.consumers
      .add(ADMIN_RELAY_STREAM, {
        durable_name: ADMIN_RELAY_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: MAX_ACK_PENDING,
        ack_wait: nanos(ACK_WAIT_MS),
        max_deliver: -1,
      })
      .catch(async (addErr: unknown) => {
        await jsm.consumers.info(ADMIN_RELAY_STREAM, ADMIN_RELAY_CONSUMER).catch(() => {
          throw addErr;
        });
      });
  }
}

/**
 * Publish an action of the CLI; resolves once JetStream stored it (then a collector
 * will record it). Creates the stream when no collector has yet.
 */
export async function publishAdminAction(
  nc: NatsConnection,
  action: Omit<RelayedAction, 'id' | 'at'> & { at?: Date },
  replicas = 1,
): Promise<RelayedAction> {
  await ensureAdminRelay(nc, replicas);
  const message: RelayedAction = {
    ...action,
    id: randomUUID(),
    at: (action.at ?? new Date()).toISOString(),
  };
  await jetstream(nc).publish(ADMIN_RELAY_SUBJECT, JSON.stringify(message), {
    msgID: message.id,
  });
  return message;
}

/** The record for a relayed message; throws naming what is wrong. */
export function parseRelayed(data: Uint8Array): AdminActionRecord {
  const raw: unknown = JSON.parse(new TextDecoder().decode(data));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error('not a JSON object');
  }
  const v = raw as Record<string, unknown>;
  const text = (name: string): string => {
    const value = v[name];
    if (typeof value !== 'string') throw new Error(`${name} is not a string`);
    return value;
  };
  const action = text('action');
  if (!isAdminAction(action)) throw new Error(`action ${JSON.stringify(action)} is unknown`);
  const outcome = text('outcome');
  if (!(OUTCOMES as readonly string[]).includes(outcome)) {
    throw new Error(`outcome ${JSON.stringify(outcome)} is unknown`);
  }
  const at = new Date(text('at'));
  if (Number.isNaN(at.getTime())) throw new Error('at is not a time');
  const metadata = v.metadata;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new Error('metadata is not an object');
  }
  return {
    orgId: text('orgId'),
    action,
    // Only CLI actions travel this way: nothing published here can pose as an API key.
    actorType: 'cli',
    actor: text('actor'),
    actorId: text('actorId'),
    outcome: outcome as AdminActionRecord['outcome'],
    metadata: { ...(metadata as Record<string, unknown>), relayId: text('id') },
    at,
  };
}

export interface AdminRelayOptions {
  nc: NatsConnection;
  adminLog: Pick<AdminLog, 'record'>;
  log: Logger;
  registry?: Registry;
  /** Replicas of the stream when this collector creates it. @default 1 */
  replicas?: number;
}

export interface AdminRelay {
  /** Stop consuming; waits for the message being recorded. Idempotent. */
  close(): Promise<void>;
}

function relayTelemetry(log: Logger, registry: Registry) {
  const messages = registry.counter(
    'connlog_collector_admin_relay_total',
    'CLI admin actions taken from the CONNLOG_ADMIN stream, by result (recorded, invalid: discarded, retry: INSERT failed, redelivered later)',
    ['result'],
  );
  return {
    recorded(action: string, outcome: string): void {
      messages.inc({ result: 'recorded' });
      log.info({ action, outcome }, 'CLI admin action recorded');
    },
    invalid(seq: number, err: unknown): void {
      messages.inc({ result: 'invalid' });
      log.warn({ seq, err }, 'CLI admin action message is malformed; discarded');
    },
    retry(seq: number, err: unknown): void {
      messages.inc({ result: 'retry' });
      log.warn({ seq, err }, 'CLI admin action not recorded yet; will be redelivered');
    },
  };
}

/** Record every relayed action in the admin log. */
export async function startAdminRelay(options: AdminRelayOptions): Promise<AdminRelay> {
  const { nc, adminLog, log } = options;
  const telemetry = relayTelemetry(log, options.registry ?? new Registry());
  await ensureAdminRelay(nc, options.replicas ?? 1);
  const consumer = await jetstream(nc).consumers.get(ADMIN_RELAY_STREAM, ADMIN_RELAY_CONSUMER);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: MAX_ACK_PENDING });
  const handle = async (msg: JsMsg): Promise<void> => {
    let record: AdminActionRecord;
    try {
      record = parseRelayed(msg.data);
    } catch (err) {
      telemetry.invalid(msg.seq, err);
      msg.term();
      return;
    }
    try {
      await adminLog.record(record);
    } catch (err) {
      telemetry.retry(msg.seq, err);
      msg.nak(RETRY_DELAY_MS);
      return;
    }
    msg.ack();
    telemetry.recorded(record.action, record.outcome);
  };
  // Records resolve when their batch is INSERTed (up to the admin log's flush
  // interval): handle messages side by side, at most MAX_ACK_PENDING at once, so a
  // backlog is one INSERT per batch and not one per message.
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const msg of messages) {
      const handling = handle(msg).finally(() => inFlight.delete(handling));
      inFlight.add(handling);
      if (inFlight.size >= MAX_ACK_PENDING) await Promise.race(inFlight);
    }
  })()
    .catch((err: unknown) => log.error({ err }, 'admin relay loop failed'))
    .then(() => Promise.all(inFlight));
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        await messages.close();
        await loop;
      })();
      return closing;
    },
  };
}
