import type { MetricSnapshot } from '@connlog/metrics';
import type { SessionEvent } from '@connlog/proto';
import type { AgentConfig } from '../config/options.js';

/*
 * What the agent's process and its worker processes say to each other over the IPC
 * channel node:cluster opens (structured-clone serialization: the events' byte fields
 * cross as Uint8Array). Every message is an object with a `t` tag.
 */

/** The agent's process → a worker. */
export type ToWorker =
  /** The first message: what the worker proxies, and as which agent. */
  | { t: 'init'; worker: number; config: AgentConfig; agentId: string; recording: boolean }
  /** The agent's buffer entered (false) or left (true) a recording gap. */
  | { t: 'recording'; on: boolean }
  /** SIGHUP reached the agent: re-read the peer maps. */
  | { t: 'reload' }
  /**
   * Stop accepting, give open sessions `graceMs`, end the rest with `agent_shutdown`,
   * send every event, then `stopped`, then exit.
   */
  | { t: 'stop'; graceMs: number };

/** A worker → the agent's process. */
export type FromWorker =
  /** It listens for messages now: send `init` (sooner it could be lost). */
  | { t: 'ready' }
  /** Every TCP resource is listening; `addresses` in the order of the config's TCP resources. */
  | { t: 'listening'; addresses: string[] }
  /** Starting failed (a listener could not bind, a peer map did not load): it exits. */
  | { t: 'failed'; code: string; message: string }
  /**
   * Session events in the order they happened, and how many sessions since the last
   * message were proxied without being recorded (the worker saw the agent in a gap),
   * and its open sessions per resource after them.
   */
  | { t: 'events'; events: SessionEvent[]; notRecorded: number; open: Record<string, number> }
  /** Sent every second and before `stopped`: its metrics and its open sessions per resource. */
  | { t: 'state'; metrics: MetricSnapshot[]; open: Record<string, number> }
  /** After the last `events` of a `stop`: how many sessions the grace period cut. */
  | { t: 'stopped'; cut: number };

/** A message from the other side is an object with a known `t` (else it is ignored). */
export function isTagged<T extends { t: string }>(
  message: unknown,
  tags: readonly T['t'][],
): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    tags.includes((message as { t?: unknown }).t as T['t'])
  );
}

export const TO_WORKER_TAGS: readonly ToWorker['t'][] = ['init', 'recording', 'reload', 'stop'];
export const FROM_WORKER_TAGS: readonly FromWorker['t'][] = [
  'ready',
  'listening',
  'failed',
  'events',
  'state',
  'stopped',
];
