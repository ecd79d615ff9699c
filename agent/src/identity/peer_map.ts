import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { CidrTable } from './cidr.js';
import { IdentityError } from './errors.js';
import type { ParsedIp } from './ip.js';
import { PEER_MAP_MAX_BYTES, parsePeerMap, type PeerIdentity } from './peer_map_file.js';

export interface PeerMapOptions {
  /** Path of the peer map file (YAML or JSON). */
  readonly file: string;
  readonly log: Logger;
  /** Called after every reload attempt; the agent's telemetry counts them. */
  readonly onReload?: (event: PeerMapReloadEvent) => void;
  /** Watch the file's directory and reload on change. @default true */
  readonly watch?: boolean;
  /** Quiet time after the last change event before reloading. @default 250 */
  readonly debounceMs?: number;
}

/** `watch`: a change in the file's directory; `manual`: `reload()` (SIGHUP). */
export type PeerMapReloadTrigger = 'watch' | 'manual';

export type PeerMapReloadEvent =
  | { readonly ok: true; readonly trigger: PeerMapReloadTrigger; readonly entries: number }
  | { readonly ok: false; readonly trigger: PeerMapReloadTrigger; readonly err: IdentityError };

export interface PeerMapStats {
  /** Entries in the map in effect. */
  readonly entries: number;
  readonly reloadsOk: number;
  readonly reloadsFailed: number;
  /** Re-reads prompted by directory events, changed or not (most find nothing new). */
  readonly checks: number;
}

export interface PeerMap {
  /** Absolute path of the file. */
  readonly file: string;
  /**
   * The most specific entry containing `ip` (socket text, IPv4-mapped and zone ids
   * allowed), or undefined. The returned object is frozen and never changes: a later
   * reload swaps the table, so sessions keep the identity they captured at accept.
   */
  lookup(ip: string | ParsedIp): PeerIdentity | undefined;
  /**
   * Re-read the file now (the agent calls this on SIGHUP). Resolves true when the new
   * map is in effect, false when the file was bad and the previous map is kept (logged
   * and counted). Never rejects. Concurrent calls are serialised.
   */
  reload(): Promise<boolean>;
  stats(): PeerMapStats;
  /** Stop watching. Idempotent; `lookup` keeps answering from the last map. */
  close(): void;
}

const DEFAULT_DEBOUNCE_MS = 250;

/**
 * Load the peer map (a bad or unreadable file is an error naming the entry/key, so the
 * agent fails at startup) and keep it current. The file's directory is watched rather
 * than the file: editors and config managers replace files by rename, and Kubernetes
 * swaps a symlinked directory, both of which a watch on the file itself misses. Any
 * event in the directory re-reads the file after a debounce; a content hash skips
 * events that did not change it, so only real changes count as reloads.
 */
export async function createPeerMap(options: PeerMapOptions): Promise<PeerMap> {
  const file = resolve(options.file);
  const { log } = options;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let first: Loaded;
  try {
    first = await readPeerMap(file);
  } catch (err) {
    throw err instanceof LoadFailure ? err.error : err;
  }
  let table = first.table;
  // What the file last looked like: its content hash, or the read error's code. A
  // watch event that finds the same state changes nothing and is not counted.
  let lastState = first.state;
  let reloadsOk = 0;
  let reloadsFailed = 0;
  let checks = 0;
  let chain: Promise<boolean> = Promise.resolve(true);
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  log.info({ file, entries: table.size }, 'peer map loaded');

  const attempt = async (trigger: PeerMapReloadTrigger): Promise<boolean> => {
    try {
      return await load(trigger);
    } finally {
      // Counted once the outcome is in effect, so a reader of stats() sees both together.
      if (trigger === 'watch') checks += 1;
    }
  };

  const load = async (trigger: PeerMapReloadTrigger): Promise<boolean> => {
    let next: Loaded;
    try {
      next = await readPeerMap(file);
    } catch (err) {
      const error = toIdentityError(err, file);
      if (trigger === 'watch' && error.state === lastState) return false;
      lastState = error.state;
      reloadsFailed += 1;
      log.error({ err: error.error, file }, 'peer map reload failed; keeping previous map');
      notify({ ok: false, trigger, err: error.error });
      return false;
    }
    if (trigger === 'watch' && next.state === lastState) return true;
    lastState = next.state;
    table = next.table;
    reloadsOk += 1;
    log.info({ file, entries: table.size, trigger }, 'peer map reloaded');
    notify({ ok: true, trigger, entries: table.size });
    return true;
  };

  const notify = (event: PeerMapReloadEvent): void => {
    try {
      options.onReload?.(event);
    } catch (err) {
      log.warn({ err }, 'peer map onReload callback threw');
    }
  };

  const reload = (trigger: PeerMapReloadTrigger): Promise<boolean> => {
    chain = chain
      .then(() => attempt(trigger))
      .catch((err: unknown) => {
        // Unreachable by design (load() catches), but a rejected chain would wedge
        // every later reload, so it is contained here too.
        log.error({ err, file }, 'peer map reload failed; keeping previous map');
        return false;
      });
    return chain;
  };

  if (options.watch ?? true) {
    try {
      watcher = watch(dirname(file), { persistent: false }, () => {
        if (closed) return;
        clearTimeout(timer);
        timer = setTimeout(() => void reload('watch'), debounceMs);
        timer.unref();
      });
      watcher.on('error', (err) => {
        log.warn({ err, file }, 'peer map watch stopped; reload with SIGHUP');
        watcher?.close();
        watcher = undefined;
      });
    } catch (err) {
      log.warn({ err, file }, 'cannot watch the peer map; reload with SIGHUP');
    }
  }

  return {
    file,
    lookup: (ip) => table.lookup(ip)?.value,
    reload: () => reload('manual'),
    stats: () => ({ entries: table.size, reloadsOk, reloadsFailed, checks }),
    close: () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}

interface Loaded {
  table: CidrTable<PeerIdentity>;
  /** `sha256:<hex>` of the content. */
  state: string;
}

/** A read or parse failure, with the state of the file (content hash or error code). */
class LoadFailure extends Error {
  constructor(
    readonly error: IdentityError,
    readonly state: string,
  ) {
    super(error.message);
  }
}

async function readPeerMap(file: string): Promise<Loaded> {
  let bytes: Buffer;
  try {
    const info = await stat(file);
    // Checked before reading so a huge file is never loaded whole into memory.
    if (info.size > PEER_MAP_MAX_BYTES) {
      throw new IdentityError('PEER_MAP_INVALID', `${file}: file larger than 16 MiB`);
    }
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof IdentityError) throw new LoadFailure(err, 'too-large');
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new LoadFailure(
      new IdentityError('PEER_MAP_READ', `${file}: cannot read the peer map (${code})`, {
        cause: err,
      }),
      `error:${code}`,
    );
  }
  const state = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  try {
    return { table: parsePeerMap(bytes.toString('utf8'), file), state };
  } catch (err) {
    if (err instanceof IdentityError) throw new LoadFailure(err, state);
    throw err;
  }
}

function toIdentityError(err: unknown, file: string): { error: IdentityError; state: string } {
  if (err instanceof LoadFailure) return { error: err.error, state: err.state };
  const message = err instanceof Error ? err.message : String(err);
  return {
    error: new IdentityError('PEER_MAP_INVALID', `${file}: ${message}`, { cause: err }),
    state: `unexpected:${message}`,
  };
}
