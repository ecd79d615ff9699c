import type { Logger } from 'pino';
import type { SpoolConfig } from './config/options.js';
import { DiskSpool } from './spool/disk.js';
import { MemorySpool } from './spool/memory.js';
import type { Spool } from './spool/spool.js';

export type SpoolKind = 'disk' | 'memory';

/** The configured spool implementation (`spool.kind`). */
export function createSpool(config: SpoolConfig, log: Logger): { spool: Spool; kind: SpoolKind } {
  if (config.kind === 'memory') {
    return { spool: new MemorySpool({ maxBytes: config.maxBytes }), kind: 'memory' };
  }
  const spool = new DiskSpool({
    dir: config.dir,
    maxBytes: config.maxBytes,
    segmentBytes: config.segmentBytes,
    fsync: config.fsync,
    fsyncIntervalMs: config.fsyncInterval,
    log: log.child({ component: 'spool' }),
  });
  return { spool, kind: 'disk' };
}
