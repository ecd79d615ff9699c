import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import { DEAD_LETTER_PREFIX } from './setup.js';
import type { RejectReason } from './decode.js';

/** Headers a dead letter carries, for whoever inspects or replays it. */
export const DEAD_LETTER_HEADERS = {
  reason: 'Connlog-Reject-Reason',
  error: 'Connlog-Reject-Error',
  subject: 'Connlog-Original-Subject',
  stream: 'Connlog-Original-Stream',
  seq: 'Connlog-Original-Seq',
} as const;

const MAX_HEADER_CHARS = 512;

/** Header values must be one line; the error text is bounded too. */
function headerValue(text: string): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return line.length > MAX_HEADER_CHARS ? `${line.slice(0, MAX_HEADER_CHARS)}…` : line;
}

/**
 * Publish the original bytes to `connlog.v1.dead.<reason>` and wait for JetStream's
 * ack. The message id is the original's stream position, so a retry after a lost ack
 * does not store the dead letter twice.
 */
export async function publishDeadLetter(
  nc: NatsConnection,
  msg: JsMsg,
  reason: RejectReason,
  error: string,
  timeoutMs: number,
): Promise<void> {
  const h = headers();
  h.set(DEAD_LETTER_HEADERS.reason, reason);
  h.set(DEAD_LETTER_HEADERS.error, headerValue(error));
  h.set(DEAD_LETTER_HEADERS.subject, msg.subject);
  h.set(DEAD_LETTER_HEADERS.stream, msg.info.stream);
  h.set(DEAD_LETTER_HEADERS.seq, String(msg.seq));
  await jetstream(nc).publish(`${DEAD_LETTER_PREFIX}.${reason}`, msg.data, {
    headers: h,
    msgID: `${msg.info.stream}:${msg.seq}`,
    timeout: timeoutMs,
  });
}
