import type { Logger } from 'pino';
import type { SpoolConfig } from './config/options.js';
import { MemorySpool } from './spool/memory.js';
import type { Spool } from './spool/spool.js';

export type SpoolKind = 'disk' | 'memory';

/** The configured spool implementation. */
export function createSpool(config: SpoolConfig, log: Logger): { spool: Spool; kind: SpoolKind } {
  if (config.kind === 'disk') {
    // The disk spool is not in this build yet: fall back loudly.
    log.warn({ dir: config.dir }, 'disk spool not available in this build; using the memory spool');
  }
  return { spool: new MemorySpool({ maxBytes: config.maxBytes }), kind: 'memory' };
}
