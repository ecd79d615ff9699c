/**
 * Idempotent JetStream setup: the sessions stream, the dead-letter stream and the
 * durable pull consumer. Every collector runs it at start; the first creates, the
 * others find things as configured. A stream that exists with other limits is updated
 * to the config (the config is the source of truth); if the server refuses the update,
 * the existing stream is used and the difference is logged.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { SESSIONS_SUBJECT_PREFIX } from '@connlog/proto';
import type { NatsConfig } from '../config.js';
import { CollectorError } from '../errors.js';
import type { Telemetry } from '../telemetry.js';

export const SESSIONS_SUBJECTS = `${SESSIONS_SUBJECT_PREFIX}.>`;
export const DEAD_LETTER_PREFIX = 'connlog.v1.dead';
export const DEAD_LETTER_SUBJECTS = `${DEAD_LETTER_PREFIX}.>`;

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

const nanos = (ms: number): number => ms * 1_000_000;

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

type Limits = Pick<
  StreamConfig,
  'max_bytes' | 'max_age' | 'duplicate_window' | 'discard' | 'num_replicas'
>;

async function ensureStream(
  jsm: JetStreamManager,
  kind: 'sessions' | 'dead_letter',
  name: string,
  subjects: string,
  limits: Limits,
  telemetry: Telemetry,
): Promise<void> {
  const wanted: Partial<StreamConfig> & { name: string } = {
    name,
    subjects: [subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    ...limits,
  };
  let info;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
  }
  if (info === undefined) {
    try {
      await jsm.streams.add(wanted);
      telemetry.streamReady(kind, name, 'created');
      return;
    } catch (err) {
      // Another collector created it in between: fall through to compare and update.
      info = await jsm.streams.info(name).catch(() => {
        throw err;
      });
    }
  }
  const current = info.config;
  const differs =
    current.max_bytes !== limits.max_bytes ||
    current.max_age !== limits.max_age ||
    current.duplicate_window !== limits.duplicate_window ||
    current.discard !== limits.discard ||
    !current.subjects.includes(subjects);
  if (!differs) {
    telemetry.streamReady(kind, name, 'unchanged');
    return;
  }
  try {
    await jsm.streams.update(name, {
      ...limits,
      subjects: current.subjects.includes(subjects)
        ? current.subjects
        : [...current.subjects, subjects],
    });
    telemetry.streamReady(kind, name, 'updated');
  } catch (err) {
    telemetry.streamSetupMismatch(name, err);
  }
}

async function ensureConsumer(
  jsm: JetStreamManager,
  config: NatsConfig,
  telemetry: Telemetry,
): Promise<void> {
  const { stream, consumer } = config;
  const wanted = {
    durable_name: consumer.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: SESSIONS_SUBJECTS,
    max_ack_pending: consumer.maxAckPending,
    ack_wait: nanos(consumer.ackWait),
    // Redeliver until stored: giving up on a batch would lose sessions.
    max_deliver: -1,
  };
  let info;
  try {
    info = await jsm.consumers.info(stream.name, consumer.durable);
  } catch (err) {
    if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
  }
  if (info === undefined) {
    await jsm.consumers.add(stream.name, wanted);
    telemetry.streamReady('consumer', consumer.durable, 'created');
    return;
  }
  if (
    info.config.max_ack_pending === wanted.max_ack_pending &&
    info.config.ack_wait === wanted.ack_wait
  ) {
    telemetry.streamReady('consumer', consumer.durable, 'unchanged');
    return;
  }
  await jsm.consumers.update(stream.name, consumer.durable, {
    max_ack_pending: wanted.max_ack_pending,
    ack_wait: wanted.ack_wait,
  });
  telemetry.streamReady('consumer', consumer.durable, 'updated');
}

export async function setupJetStream(
  jsm: JetStreamManager,
  config: NatsConfig,
  telemetry: Telemetry,
): Promise<void> {
  try {
    await ensureStream(
      jsm,
      'sessions',
      config.stream.name,
      SESSIONS_SUBJECTS,
      {
        max_bytes: config.stream.maxBytes,
        max_age: nanos(config.stream.maxAge),
        duplicate_window: nanos(config.stream.duplicateWindow),
        // A full stream must push back on agents (they spool), never delete unread data.
        discard: DiscardPolicy.New,
        num_replicas: config.stream.replicas,
      },
      telemetry,
    );
    await ensureStream(
      jsm,
      'dead_letter',
      config.deadLetter.stream,
      DEAD_LETTER_SUBJECTS,
      {
        max_bytes: config.deadLetter.maxBytes,
        max_age: nanos(config.deadLetter.maxAge),
        duplicate_window: nanos(config.stream.duplicateWindow),
        // Dead letters are diagnostics: when full, the oldest go, so a flood of bad
        // batches never blocks ingestion of good ones.
        discard: DiscardPolicy.Old,
        num_replicas: config.stream.replicas,
      },
      telemetry,
    );
    await ensureConsumer(jsm, config, telemetry);
  } catch (err) {
    if (err instanceof CollectorError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new CollectorError('NATS_SETUP', `cannot set up JetStream: ${reason}`, { cause: err });
  }
}
