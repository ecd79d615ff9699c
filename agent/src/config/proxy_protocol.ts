import { IdentityError } from '../identity/errors.js';
import { parseCidr } from '../identity/cidr.js';
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  resolveProxyProtocolPolicy,
  type ProxyProtocolPolicy,
} from '../identity/policy.js';
import {
  DEFAULT_CLIENT_ID_TLV,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_USER_ID_TLV,
} from '../identity/proxy_header.js';
import { CONFIG_KEYS } from './keys.js';
import type { PeerMapConfig, ProxyProtocolConfig } from './options.js';
import { ConfigReader, show } from './reader.js';
import { parseDuration, parseSize } from './units.js';

export const PROXY_PROTOCOL_DEFAULTS: ProxyProtocolConfig = {
  mode: 'off',
  trustedCidrs: [],
  headerTimeout: DEFAULT_HEADER_TIMEOUT_MS,
  clientIdTlv: DEFAULT_CLIENT_ID_TLV,
  userIdTlv: DEFAULT_USER_ID_TLV,
  uniqueIdAsClientId: false,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
};

/** Some keys of `T`, writable (what one mapping set). */
export type SetKeys<T> = { -readonly [K in keyof T]?: T[K] };

/**
 * The keys of one `proxyProtocol` mapping (top level or a resource), each checked on its
 * own; keys left out are absent, so a resource inherits them from the top level.
 */
export function readProxyProtocolKeys(
  r: ConfigReader,
  raw: unknown,
  path: string,
): SetKeys<ProxyProtocolConfig> {
  if (raw === undefined || raw === null) return {};
  const section = r.object(raw, path, CONFIG_KEYS.proxyProtocol);
  const out: SetKeys<ProxyProtocolConfig> = {};
  const at = (key: string): string => `${path}.${key}`;
  if (section.mode !== undefined && section.mode !== null) {
    out.mode = r.oneOf(section.mode, at('mode'), ['off', 'optional', 'required'] as const, 'off');
  }
  if (section.trustedCidrs !== undefined && section.trustedCidrs !== null) {
    const list =
      typeof section.trustedCidrs === 'string'
        ? [section.trustedCidrs]
        : r.array(section.trustedCidrs, at('trustedCidrs'));
    out.trustedCidrs = list.map((entry, i) => {
      const entryPath = `${at('trustedCidrs')}[${i}]`;
      const text = r.string(entry, entryPath).trim();
      identity(r, entryPath, () => parseCidr(text, entryPath));
      return text;
    });
  }
  if (section.headerTimeout !== undefined && section.headerTimeout !== null) {
    out.headerTimeout = r.measure(
      section.headerTimeout,
      at('headerTimeout'),
      parseDuration,
      'a duration like "3s" or "500ms" or a number of milliseconds',
      { min: 1, max: 60_000 },
      DEFAULT_HEADER_TIMEOUT_MS,
    );
  }
  for (const key of ['clientIdTlv', 'userIdTlv'] as const) {
    const value = section[key];
    if (value === undefined || value === null) continue;
    out[key] = tlvType(r, value, at(key));
  }
  if (section.uniqueIdAsClientId !== undefined && section.uniqueIdAsClientId !== null) {
    out.uniqueIdAsClientId = r.boolean(section.uniqueIdAsClientId, at('uniqueIdAsClientId'), false);
  }
  if (section.maxHeaderBytes !== undefined && section.maxHeaderBytes !== null) {
    out.maxHeaderBytes = r.measure(
      section.maxHeaderBytes,
      at('maxHeaderBytes'),
      parseSize,
      'a size like "4KiB" or a number of bytes',
      { min: 0, max: Number.MAX_SAFE_INTEGER },
      DEFAULT_MAX_HEADER_BYTES,
    );
  }
  return out;
}

/**
 * Merge `keys` over `base` and check the combination (TLV ranges and clash, header
 * size bounds, trusted CIDRs required unless `off`), failing under `path`.
 */
export function resolveProxyProtocolConfig(
  r: ConfigReader,
  base: ProxyProtocolConfig,
  keys: SetKeys<ProxyProtocolConfig>,
  path: string,
): ProxyProtocolConfig {
  const merged: ProxyProtocolConfig = { ...base, ...keys };
  identity(r, path, () => resolveProxyProtocolPolicy(toProxyProtocolPolicy(merged), path));
  return merged;
}

/** The identity module's policy input for a validated config. */
export function toProxyProtocolPolicy(config: ProxyProtocolConfig): ProxyProtocolPolicy {
  return {
    mode: config.mode,
    trustedCidrs: config.trustedCidrs,
    headerTimeoutMs: config.headerTimeout,
    clientIdTlv: config.clientIdTlv,
    userIdTlv: config.userIdTlv,
    uniqueIdAsClientId: config.uniqueIdAsClientId,
    maxHeaderBytes: config.maxHeaderBytes,
  };
}

/** A `peerMap` block (top level, or a resource's own under `path`). */
export function readPeerMap(
  r: ConfigReader,
  raw: unknown,
  path = 'peerMap',
): PeerMapConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const section = r.object(raw, path, CONFIG_KEYS.peerMap);
  if (section.file === undefined || section.file === null) {
    r.fail(`${path}.file`, 'is required (leave out the peerMap block for no peer map)');
  }
  const file = r.string(section.file, `${path}.file`).trim();
  if (file === '') r.fail(`${path}.file`, 'must not be empty');
  return { file };
}

/** A TLV type as YAML gives it (`0xE1` reads as 225) or as text (`"0xE1"`, `"225"`). */
function tlvType(r: ConfigReader, value: unknown, path: string): number {
  let number: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) number = value;
  else if (typeof value === 'string') {
    const text = value.trim();
    if (/^0x[0-9a-f]{1,2}$/i.test(text)) number = Number.parseInt(text.slice(2), 16);
    else if (/^\d{1,3}$/.test(text)) number = Number(text);
  }
  if (number === undefined)
    r.fail(path, `expected a TLV type 1..255 (e.g. 0xE1), got ${show(value)}`);
  return number;
}

/** Identity checks throw `IdentityError`s that already start with the key; keep the message. */
function identity(r: ConfigReader, path: string, check: () => unknown): void {
  try {
    check();
  } catch (err) {
    if (!(err instanceof IdentityError)) throw err;
    const message = err.message.startsWith(path) ? err.message : `${path}: ${err.message}`;
    const colon = message.indexOf(': ');
    r.fail(message.slice(0, colon), message.slice(colon + 2));
  }
}
