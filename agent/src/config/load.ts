import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AgentError, describeError } from '../errors.js';
import type { AgentConfig } from './options.js';
import { parseConfig } from './validate.js';

/** Command-line overrides (they win over env vars, which win over the file). */
export interface ConfigFlags {
  org?: string;
  site?: string;
  /** Comma-separated NATS server URLs. */
  nats?: string;
  httpListen?: string;
  logLevel?: string;
  spoolDir?: string;
}

/** Env var → config key. Lists (`nats.servers`) are comma-separated. */
export const ENV_VARS: Readonly<Record<string, string>> = {
  CONNLOG_AGENT_ORG: 'org',
  CONNLOG_AGENT_SITE: 'site',
  CONNLOG_AGENT_ID: 'agentId',
  CONNLOG_AGENT_NATS_SERVERS: 'nats.servers',
  CONNLOG_AGENT_NATS_USER: 'nats.user',
  CONNLOG_AGENT_NATS_PASS: 'nats.pass',
  CONNLOG_AGENT_NATS_TOKEN: 'nats.token',
  CONNLOG_AGENT_NATS_CREDS_FILE: 'nats.credsFile',
  CONNLOG_AGENT_NATS_NAME: 'nats.name',
  CONNLOG_AGENT_NATS_INBOX_PREFIX: 'nats.inboxPrefix',
  CONNLOG_AGENT_SPOOL_DIR: 'spool.dir',
  CONNLOG_AGENT_HTTP_LISTEN: 'http.listen',
  CONNLOG_AGENT_LOG_LEVEL: 'log.level',
  CONNLOG_AGENT_PROXY_PROTOCOL_MODE: 'proxyProtocol.mode',
  CONNLOG_AGENT_PROXY_PROTOCOL_TRUSTED_CIDRS: 'proxyProtocol.trustedCidrs',
  CONNLOG_AGENT_PEER_MAP_FILE: 'peerMap.file',
};

const FLAGS: Readonly<Record<keyof ConfigFlags, { key: string; flag: string }>> = {
  org: { key: 'org', flag: '--org' },
  site: { key: 'site', flag: '--site' },
  nats: { key: 'nats.servers', flag: '--nats' },
  httpListen: { key: 'http.listen', flag: '--http-listen' },
  logLevel: { key: 'log.level', flag: '--log-level' },
  spoolDir: { key: 'spool.dir', flag: '--spool-dir' },
};

const LIST_KEYS = new Set(['nats.servers', 'proxyProtocol.trustedCidrs']);

/**
 * Read the YAML file (when given), apply env vars then flags, validate. Throws
 * `AgentError` with code `CONFIG_READ` (file unreadable, not YAML) or `CONFIG_INVALID`
 * (a message starting with the offending key).
 */
export function loadConfig(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  flags: ConfigFlags = {},
): AgentConfig {
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AgentError(
        'CONFIG_READ',
        `cannot read config file ${file}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new AgentError(
        'CONFIG_READ',
        `config file ${file} is not valid YAML: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AgentError('CONFIG_INVALID', `(root): the config file must hold a mapping`);
  }
  const tree = structuredClone(raw) as Record<string, unknown>;
  const sources = new Map<string, string>();
  for (const [name, key] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(tree, key, LIST_KEYS.has(key) ? splitList(value) : value);
    sources.set(key, `env ${name}`);
  }
  for (const [name, spec] of Object.entries(FLAGS) as [
    keyof ConfigFlags,
    (typeof FLAGS)[keyof ConfigFlags],
  ][]) {
    const value = flags[name];
    if (value === undefined) continue;
    setPath(tree, spec.key, LIST_KEYS.has(spec.key) ? splitList(value) : value);
    sources.set(spec.key, `flag ${spec.flag}`);
  }
  return parseConfig(tree, sources);
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** Set `a.b.c` in a plain tree, replacing non-mappings on the way (validation follows). */
function setPath(tree: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      const created: Record<string, unknown> = {};
      node[part] = created;
      node = created;
    } else {
      node = next as Record<string, unknown>;
    }
  }
  node[parts[parts.length - 1] ?? key] = value;
}
