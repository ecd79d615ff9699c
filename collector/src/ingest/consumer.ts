/**
 * The ingest loop: pull batches from the durable consumer, decode them, gather rows
 * across messages, INSERT them in one statement per `maxBatchRows` or `flushInterval`,
 * and ack the messages only after ClickHouse accepted the rows.
 *
 * Bounds and policies:
 * - client prefetch: at most PREFETCH_BYTES bytes buffered (the client takes a byte
 *   or a message bound, not both; bytes bound memory, and `max_ack_pending` bounds the
 *   message count anyway);
 * - one batch inserting and one filling; the loop waits (stops pulling) when the
 *   filling batch is full, so memory stays at about two batches;
 * - JetStream stops delivering at `max_ack_pending` unacked messages;
 * - a failed INSERT naks its messages with a growing delay (1 s to 30 s) and the next
 *   INSERT waits that long too: no busy loop while ClickHouse is down, and the stream
 *   keeps the data;
 * - a bad batch goes to the dead-letter stream and is acked; if that publish fails it
 *   is nak'ed and retried later, never dropped.
 */
import type { Logger } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { CollectorConfig } from '../config.js';
import type { Store } from '../store/store.js';
import type { Telemetry } from '../telemetry.js';
import { PendingBatch, dedupTokenOfKeys, gapDedupToken } from './batch.js';
import { publishDeadLetter } from './dead_letter.js';
import { decodeMessage, type RejectReason } from './decode.js';
import type { RowsStored } from './rows_stored.js';
import { decodeToRowBinary } from './wire_rows.js';
import { RowBinaryPayload } from '../store/payload.js';

const PREFETCH_BYTES = 8 * 1024 * 1024;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const LAG_POLL_MS = 5000;
const DEAD_LETTER_TIMEOUT_MS = 5000;

export interface ConsumerDeps {
  nc: NatsConnection;
  config: CollectorConfig;
  store: Store;
  telemetry: Telemetry;
  rowsStored: RowsStored;
  /** The org's retention in days (0 = do not store). */
  retentionFor: (org: string) => number;
  log: Logger;
}

export interface ConsumerStatus {
  running: boolean;
  /** Rows waiting for their INSERT. */
  pendingRows: number;
  /** Epoch ms of the last successful INSERT. */
  lastInsertAt: number | undefined;
  /** Message of the last failed INSERT, cleared by the next success. */
  lastInsertError: string | undefined;
  consecutiveInsertFailures: number;
}

export class SessionConsumer {
  private batch: PendingBatch<JsMsg>;
  private flushChain: Promise<void> = Promise.resolve();
  private messages: ConsumerMessages | undefined;
  private consumer: Consumer | undefined;
  private loop: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private retryAt = 0;
  private readonly stopping = new AbortController();
  private lastInsertAt: number | undefined;
  private lastInsertError: string | undefined;
  private failures = 0;

  constructor(private readonly deps: ConsumerDeps) {
    this.batch = this.newBatch();
  }

  /**
   * Row objects are kept past their encoding only for the live tail: rows decoded
   * before its first listener subscribed are stored but not shown to it.
   */
  private newBatch(): PendingBatch<JsMsg> {
    const { store, rowsStored } = this.deps;
    return new PendingBatch<JsMsg>(store.newSessionPayload(), () => rowsStored.size > 0);
  }

  async start(): Promise<void> {
    const { nc, config } = this.deps;
    const js = jetstream(nc);
    this.consumer = await js.consumers.get(config.nats.stream.name, config.nats.consumer.durable);
    this.messages = await this.consumer.consume({ max_bytes: PREFETCH_BYTES });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const msg of messages) await this.handle(msg);
    })();
    const tick = Math.max(10, Math.floor(config.ingest.flushInterval / 4));
    this.flushTimer = setInterval(() => this.flushIfDue(), tick);
    this.lagTimer = setInterval(() => void this.pollLag(), LAG_POLL_MS);
    this.flushTimer.unref();
    this.lagTimer.unref();
    void this.pollLag();
  }

  /** Stop pulling, process what was already delivered, flush it. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) {
      await this.loop;
      await this.flushChain;
      return;
    }
    this.stopping.abort();
    clearInterval(this.flushTimer);
    clearInterval(this.lagTimer);
    await this.messages?.close();
    await this.loop?.catch((err: unknown) => this.deps.log.error({ err }, 'consume loop failed'));
    await this.flush();
  }

  status(): ConsumerStatus {
    return {
      running: this.loop !== undefined && !this.stopping.signal.aborted,
      pendingRows: this.batch.rowCount,
      lastInsertAt: this.lastInsertAt,
      lastInsertError: this.lastInsertError,
      consecutiveInsertFailures: this.failures,
    };
  }

  private async handle(msg: JsMsg): Promise<void> {
    const { telemetry, retentionFor, config } = this.deps;
    if (this.handleFast(msg)) {
      if (this.batch.rowCount >= config.ingest.maxBatchRows) await this.flushFull();
      return;
    }
    const result = decodeMessage(msg.subject, msg.data, { retentionFor });
    if (!result.ok) {
      await this.reject(msg, result.reason, result.message);
      return;
    }
    telemetry.batchReceived(result.rows.length);
    for (const gap of result.gaps) {
      telemetry.gapReported({ org: result.org, site: result.site, agentId: result.agentId }, gap);
    }
    if (result.rows.length === 0 && result.gapRows.length === 0) {
      msg.ack();
      return;
    }
    if (result.retentionDays === 0) {
      telemetry.eventsDropped('retention_zero', result.org, result.rows.length);
      msg.ack();
      return;
    }
    this.batch.add(msg, result.rows, performance.now(), result.gapRows);
    if (this.batch.rowCount >= config.ingest.maxBatchRows) await this.flushFull();
  }

  /**
   * The wire reader's path (wire_rows.ts): rows go from the message's bytes straight
   * into the RowBinary payload. False: not taken, nothing done; `handle` runs the
   * reference path, which also makes every rejection.
   */
  private handleFast(msg: JsMsg): boolean {
    const batch = this.batch;
    const payload = batch.payload;
    if (!(payload instanceof RowBinaryPayload) || batch.rowsWanted) return false;
    const wire = decodeToRowBinary(msg.subject, msg.data, payload.writer, batch.keys, {
      retentionFor: this.deps.retentionFor,
    });
    if (wire === undefined) return false;
    payload.wrote(wire.rowCount);
    this.deps.telemetry.batchReceived(wire.rowCount);
    batch.addEncoded(msg, performance.now());
    return true;
  }

  private async reject(msg: JsMsg, reason: RejectReason, message: string): Promise<void> {
    const { nc, telemetry } = this.deps;
    try {
      await publishDeadLetter(nc, msg, reason, message, DEAD_LETTER_TIMEOUT_MS);
    } catch (err) {
      telemetry.deadLetterFailed(reason, err);
      msg.nak(BACKOFF_MAX_MS);
      return;
    }
    msg.ack();
    telemetry.batchRejected(reason, { subject: msg.subject, seq: msg.seq, message });
  }

  private flushIfDue(): void {
    const { firstAt } = this.batch;
    if (
      firstAt !== undefined &&
      performance.now() - firstAt >= this.deps.config.ingest.flushInterval
    ) {
      void this.flush();
    }
  }

  /**
   * The filling batch is full: wait for the INSERT before it (one at a time), then
   * hand it over and fill the next one while it inserts. Awaiting its own INSERT
   * instead left the loop idle during every INSERT, and that bounded the pipeline
   * once decoding got cheap.
   */
  private async flushFull(): Promise<void> {
    await this.flushChain;
    void this.flush();
  }

  /** Hand the filling batch to the insert chain; resolves when it is inserted (or nak'ed). */
  private flush(): Promise<void> {
    if (this.batch.empty) return this.flushChain;
    const batch = this.batch;
    this.batch = this.newBatch();
    this.flushChain = this.flushChain.then(() => this.insert(batch));
    return this.flushChain;
  }

  /** Never throws: success acks, failure naks with backoff. */
  private async insert(batch: PendingBatch<JsMsg>): Promise<void> {
    const { store, telemetry, config, rowsStored } = this.deps;
    // Tell JetStream we are still on it while we wait or insert, so it does not
    // redeliver these messages to another collector meanwhile.
    const keepAlive = setInterval(
      () => {
        for (const msg of batch.messages) msg.working();
      },
      Math.max(1000, Math.floor(config.nats.consumer.ackWait / 3)),
    );
    try {
      await this.waitForRetry();
      const started = performance.now();
      try {
        if (batch.rowCount > 0) {
          await store.insertSessionPayload(batch.payload, {
            dedupToken: dedupTokenOfKeys(batch.keys),
          });
        }
        // Gaps too must be stored before the ack; a failure here naks the whole batch,
        // and the session rows already inserted come again as a harmless replay.
        if (batch.gaps.length > 0) {
          await store.insertGaps(batch.gaps, { dedupToken: gapDedupToken(batch.gaps) });
        }
      } catch (err) {
        this.failures += 1;
        this.backoffMs = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, this.backoffMs * 2));
        this.retryAt = Date.now() + this.backoffMs;
        this.lastInsertError = err instanceof Error ? err.message : String(err);
        for (const msg of batch.messages) msg.nak(this.backoffMs);
        telemetry.insertFailed(batch.rowCount, batch.messages.length, this.backoffMs, err);
        return;
      }
      for (const msg of batch.messages) msg.ack();
      telemetry.inserted(batch.rowCount, (performance.now() - started) / 1000);
      this.failures = 0;
      this.backoffMs = 0;
      this.lastInsertAt = Date.now();
      this.lastInsertError = undefined;
      rowsStored.emit(batch.rows);
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** After a failure, wait out the backoff; a stop cuts the wait short for one last try. */
  private async waitForRetry(): Promise<void> {
    const wait = this.retryAt - Date.now();
    if (wait <= 0 || this.stopping.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      const signal = this.stopping.signal;
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async pollLag(): Promise<void> {
    try {
      const info = await this.consumer?.info(false);
      if (info) this.deps.telemetry.consumerLag(info.num_pending, info.num_ack_pending);
    } catch (err) {
      this.deps.telemetry.consumerInfoFailed(err);
    }
  }
}
