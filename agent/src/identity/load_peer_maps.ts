import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/options.js';
import { AgentError, describeError } from '../errors.js';
import { IdentityError } from './errors.js';
import { createPeerMap, type PeerMap } from './peer_map.js';
import type { IdentityTelemetry } from './telemetry.js';

/**
 * Load every peer map the config names, keyed by absolute path. At startup every one
 * must load: a bad file fails with the key and the entry. A file named by several
 * resources (or by them and the top level) is loaded and watched once.
 */
export async function loadPeerMaps(
  config: AgentConfig,
  log: Logger,
  telemetry: IdentityTelemetry,
): Promise<Map<string, PeerMap>> {
  const wanted = new Map<string, { file: string; key: string }>();
  if (config.peerMap)
    wanted.set(resolve(config.peerMap.file), { file: config.peerMap.file, key: 'peerMap.file' });
  config.resources.forEach((resource, i) => {
    const file = resource.peerMap?.file;
    if (file !== undefined && !wanted.has(resolve(file))) {
      wanted.set(resolve(file), { file, key: `resources[${i}].peerMap.file` });
    }
  });
  const loaded = new Map<string, PeerMap>();
  for (const [path, { file, key }] of wanted) {
    try {
      const peerMap = await createPeerMap({
        file,
        log,
        onReload: (event) => telemetry.peerMapReloaded(file, event),
      });
      telemetry.peerMapLoaded(file, peerMap.stats().entries);
      loaded.set(path, peerMap);
    } catch (err) {
      for (const peerMap of loaded.values()) peerMap.close();
      const message = err instanceof IdentityError ? err.message : describeError(err);
      throw new AgentError('CONFIG_INVALID', `${key}: ${message}`, { cause: err });
    }
  }
  return loaded;
}

/** Re-read every peer map now; true when all new maps are in effect (see `Agent`). */
export async function reloadPeerMaps(peerMaps: Map<string, PeerMap>): Promise<boolean> {
  const all = await Promise.all([...peerMaps.values()].map((peerMap) => peerMap.reload()));
  return all.every(Boolean);
}
