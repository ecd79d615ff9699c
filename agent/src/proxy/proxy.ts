import type { Outcome } from './close_reason.js';

/** What the agent needs from the proxy of one resource, whatever its protocol. */
export interface ResourceProxy {
  /** Bind the listen address; resolves the bound `host:port`. */
  listen(): Promise<string>;
  /** The bound `host:port` (`''` before `listen()`). */
  readonly address: string;
  /** No new sessions from now on; open ones continue. */
  stopAccepting(): Promise<void>;
  /** End every open session with `outcome` and release all sockets. */
  abortAll(outcome: Outcome): void;
}
