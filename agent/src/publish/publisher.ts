import { batchMsgId, decodeBatch } from '@connlog/proto';
import type { Spool, SpooledBatch } from '../spool/spool.js';
import type { Telemetry } from '../telemetry.js';
import { backoffDelay, sleep } from './backoff.js';
import type { NatsLink } from './nats.js';
import { Wake } from './wake.js';

export interface PublisherOptions {
  spool: Spool;
  link: NatsLink;
  subject: string;
  agentId: string;
  maxInflight: number;
  telemetry: Telemetry;
  /** A batch was acknowledged and removed from the spool. */
  onAcked?: (batchSeq: number) => void;
}

/**
 * Publishes spooled batches to JetStream in a bounded window: at most `maxInflight`
 * publishes await their ack at once. A failed publish is retried with the same
 * `Nats-Msg-Id` (backoff + jitter) until it is acknowledged — batches are never
 * dropped; only an ack removes a batch from the spool.
 */
export class Publisher {
  private readonly opts: PublisherOptions;
  private readonly wake = new Wake();
  private readonly abort = new AbortController();
  private readonly inflight = new Map<number, Promise<void>>();
  /** Event counts of batches made by this process (replayed ones are decoded). */
  private readonly eventCounts = new Map<number, number>();
  private running: Promise<void> | undefined;
  private cursor = 0;

  constructor(options: PublisherOptions) {
    this.opts = options;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** A new batch is in the spool. */
  notify(batchSeq: number, events: number): void {
    this.eventCounts.set(batchSeq, events);
    this.wake.notify();
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Stop publishing; in-flight publishes are abandoned (they stay in the spool). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake.notify();
    await this.running;
    await Promise.allSettled([...this.inflight.values()]);
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    const { spool, link, maxInflight, telemetry } = this.opts;
    while (!signal.aborted) {
      if (!link.connected) {
        await link.waitConnected(1000);
        continue;
      }
      const free = maxInflight - this.inflight.size;
      let batches: SpooledBatch[] = [];
      if (free > 0) {
        try {
          batches = await spool.readPending(this.cursor, free);
        } catch (err) {
          telemetry.stageFailed('spool', err);
          await sleep(1000, signal);
          continue;
        }
      }
      for (const batch of batches) {
        this.cursor = Math.max(this.cursor, batch.batchSeq);
        const task = this.publishOne(batch).finally(() => {
          this.inflight.delete(batch.batchSeq);
          this.wake.notify();
        });
        this.inflight.set(batch.batchSeq, task);
      }
      if (batches.length === 0 || this.inflight.size >= maxInflight) await this.wake.wait(1000);
    }
  }

  private async publishOne(batch: SpooledBatch): Promise<void> {
    const { spool, link, subject, agentId, telemetry } = this.opts;
    const { signal } = this.abort;
    const msgID = batchMsgId(agentId, batch.batchSeq);
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      if (!link.connected) {
        await link.waitConnected(1000);
        attempt = -1;
        continue;
      }
      try {
        await link.publish(subject, batch.payload, msgID);
      } catch (err) {
        telemetry.stageFailed('publish', err, { batchSeq: batch.batchSeq, subject });
        await sleep(backoffDelay(attempt, 250, 10_000), signal);
        continue;
      }
      try {
        await spool.ack(batch.batchSeq);
      } catch (err) {
        // JetStream has it; a later re-publish after restart is a deduplicated no-op.
        telemetry.stageFailed('spool', err, { batchSeq: batch.batchSeq });
      }
      telemetry.batchPublished(this.eventsOf(batch));
      this.opts.onAcked?.(batch.batchSeq);
      return;
    }
  }

  private eventsOf(batch: SpooledBatch): number {
    const known = this.eventCounts.get(batch.batchSeq);
    if (known !== undefined) {
      this.eventCounts.delete(batch.batchSeq);
      return known;
    }
    try {
      return decodeBatch(batch.payload).events.length;
    } catch (err) {
      this.opts.telemetry.undecodableBatchPublished(batch.batchSeq, err);
      return 0;
    }
  }
}
