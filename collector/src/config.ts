/**
 * Collector configuration: YAML file, then environment, then `--set key=value` flags,
 * validated against one table of keys. Unknown keys and bad values fail at startup
 * naming the key; the result is deep-frozen.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CollectorError } from './errors.js';
import { parseDuration, parseListen, parseSize } from './units.js';

export interface CollectorConfig {
  /**
   * Directory for the collector's state; the embedded engine keeps its files in
   * `<dataDir>/clickhouse`.
   * @default "./data/collector"
   */
  readonly dataDir: string;
  readonly nats: NatsConfig;
  readonly clickhouse: ClickHouseConfig;
  readonly ingest: IngestConfig;
  readonly retention: RetentionConfig;
  readonly adminLog: AdminLogConfig;
  readonly auth: AuthConfig;
  readonly http: HttpConfig;
  readonly serviceLog: ServiceLogConfig;
  readonly log: LogConfig;
}

export interface NatsConfig {
  /** @default ["nats://127.0.0.1:4222"] */
  readonly servers: readonly string[];
  /** User name; needs `pass`. */
  readonly user?: string;
  readonly pass?: string;
  /** Token auth; not together with `user`. */
  readonly token?: string;
  /** Path of a `.creds` file (JWT + nkey seed). */
  readonly credsFile?: string;
  /** Connection name shown by the NATS server. @default "connlog-collector" */
  readonly name: string;
  /**
   * Prefix of the collector's reply subjects; the deploy's NATS permissions allow
   * only this one, so collectors cannot read site replies and vice versa.
   * @default "_INBOX_collector"
   */
  readonly inboxPrefix: string;
  readonly stream: StreamConfig;
  readonly consumer: ConsumerConfig;
  readonly deadLetter: DeadLetterConfig;
}

export interface StreamConfig {
  /** @default "CONNLOG_SESSIONS" */
  readonly name: string;
  /**
   * Stream size limit in bytes (YAML accepts "10GiB"). When full, publishes are
   * refused (`discard: new`) and agents keep events in their spool.
   * @default 1073741824 (1 GiB)
   */
  readonly maxBytes: number;
  /**
   * Oldest message age in ms (YAML accepts "7d"); 0 = no age limit.
   * @default 604800000 (7 days)
   */
  readonly maxAge: number;
  /**
   * Window in ms in which JetStream drops a re-published `Nats-Msg-Id`.
   * @default 120000 (2 min)
   */
  readonly duplicateWindow: number;
  /** @default 1 */
  readonly replicas: number;
}

export interface ConsumerConfig {
  /** Durable pull consumer shared by every collector. @default "connlog-collector" */
  readonly durable: string;
  /**
   * Messages delivered but not acked yet; JetStream pauses delivery at this bound.
   * Must be at least `ingest.maxBatchRows` so a batch can fill with one-event messages.
   * @default 100000
   */
  readonly maxAckPending: number;
  /**
   * How long JetStream waits for an ack before redelivering, in ms. The collector
   * extends it while an insert is running.
   * @default 60000 (60 s)
   */
  readonly ackWait: number;
}

export interface DeadLetterConfig {
  /** Stream for rejected batches (subjects `connlog.v1.dead.>`). @default "CONNLOG_DEAD" */
  readonly stream: string;
  /**
   * Size limit in bytes; when full the oldest dead letters go (`discard: old`), so a
   * flood of bad batches never stops ingestion.
   * @default 268435456 (256 MiB)
   */
  readonly maxBytes: number;
  /** @default 2592000000 (30 days) */
  readonly maxAge: number;
}

export interface ClickHouseConfig {
  /** ClickHouse HTTP(S) URL; unset = embedded engine in `<dataDir>/clickhouse`. */
  readonly url?: string;
  /** @default "default" */
  readonly username: string;
  /** @default "" */
  readonly password: string;
  /** @default "connlog" */
  readonly database: string;
  /** Cluster name: DDL runs ON CLUSTER, tables are Replicated* behind Distributed. */
  readonly cluster?: string;
}

export interface IngestConfig {
  /**
   * Rows per INSERT: the batch is flushed when it reaches this many rows (or at
   * `flushInterval`). One message's events always go into one batch, so a batch may
   * exceed this by at most one message. 100,000 because the engine's cost per INSERT is
   * high: 20,000-row INSERTs cost the embedded engine ~4.7 CPU-s per million rows,
   * 100,000-row ones ~3.5 (docs/benchmarks.md); below the rate that fills a batch,
   * `flushInterval` decides and the size does not matter.
   * @default 100000
   */
  readonly maxBatchRows: number;
  /** Longest time a row waits for its INSERT, in ms (YAML accepts "1s"). @default 1000 */
  readonly flushInterval: number;
}

export interface RetentionConfig {
  /**
   * Days to keep an org's sessions when it has no setting of its own: 1..3650,
   * 0 = do not store, -1 = keep forever. Every collector of a deployment needs the
   * same value (each re-stamps rows to its own default at start).
   * @default 30
   */
  readonly defaultDays: number;
  /**
   * Time between TTL enforcement passes (rewrite partitions holding expired rows);
   * 0 = never, leave it to ClickHouse's own TTL merges. At least 1 s otherwise.
   * @default 3600000 (1 h)
   */
  readonly enforceInterval: number;
  /** NATS KV bucket of the per-org settings. @default "connlog_retention" */
  readonly bucket: string;
}

export interface AdminLogConfig {
  /** Days to keep `admin_actions` rows (1..3650); applies to existing rows too. @default 365 */
  readonly retentionDays: number;
}

export interface AuthConfig {
  /**
   * API keys required on every route but `/healthz`, `/sql/ping` and the OpenAPI
   * document. false = the API is open to anyone who reaches it (logged loudly at start).
   * @default false
   */
  readonly enabled: boolean;
  /** `/metrics` needs an API key too (any role). Only with `enabled`. @default false */
  readonly metricsAuth: boolean;
  /** NATS KV bucket of the API keys (hashes only). @default "connlog_apikeys" */
  readonly bucket: string;
}

export interface ServiceLogConfig {
  /** One `network_log` log line per stored session version. @default false */
  readonly enabled: boolean;
}

export interface HttpConfig {
  /** `host:port` of the API, `/metrics` and `/healthz`; port 0 = any free port. @default "127.0.0.1:8080" */
  readonly listen: string;
}

export interface LogConfig {
  /** fatal, error, warn, info, debug, trace or silent. @default "info" */
  readonly level: string;
}

type Kind =
  | 'string'
  | 'optionalString'
  | 'strings'
  | 'integer'
  | 'boolean'
  | 'size'
  | 'duration'
  | 'listen'
  | 'level'
  | 'url'
  | 'identifier'
  | 'name';

interface Field {
  kind: Kind;
  default?: unknown;
  min?: number;
  max?: number;
  /** Said after a refused value: what the accepted values mean. */
  hint?: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every key, its kind and default: the one source for parsing, env names and docs. */
export const CONFIG_FIELDS: Readonly<Record<string, Field>> = {
  dataDir: { kind: 'string', default: './data/collector' },
  'nats.servers': { kind: 'strings', default: ['nats://127.0.0.1:4222'] },
  'nats.user': { kind: 'optionalString' },
  'nats.pass': { kind: 'optionalString' },
  'nats.token': { kind: 'optionalString' },
  'nats.credsFile': { kind: 'optionalString' },
  'nats.name': { kind: 'string', default: 'connlog-collector' },
  'nats.inboxPrefix': { kind: 'name', default: '_INBOX_collector' },
  'nats.stream.name': { kind: 'name', default: 'CONNLOG_SESSIONS' },
  'nats.stream.maxBytes': { kind: 'size', default: 1024 ** 3, min: 1 },
  'nats.stream.maxAge': { kind: 'duration', default: 7 * 86_400_000 },
  'nats.stream.duplicateWindow': { kind: 'duration', default: 120_000, min: 1000 },
  'nats.stream.replicas': { kind: 'integer', default: 1, min: 1, max: 5 },
  'nats.consumer.durable': { kind: 'name', default: 'connlog-collector' },
  'nats.consumer.maxAckPending': { kind: 'integer', default: 100_000, min: 1, max: 1_000_000 },
  'nats.consumer.ackWait': { kind: 'duration', default: 60_000, min: 1000 },
  'nats.deadLetter.stream': { kind: 'name', default: 'CONNLOG_DEAD' },
  'nats.deadLetter.maxBytes': { kind: 'size', default: 256 * 1024 ** 2, min: 1 },
  'nats.deadLetter.maxAge': { kind: 'duration', default: 30 * 86_400_000 },
  'clickhouse.url': { kind: 'url' },
  'clickhouse.username': { kind: 'string', default: 'default' },
  'clickhouse.password': { kind: 'string', default: '' },
  'clickhouse.database': { kind: 'identifier', default: 'connlog' },
  'clickhouse.cluster': { kind: 'identifier' },
  'ingest.maxBatchRows': { kind: 'integer', default: 100_000, min: 1, max: 1_000_000 },
  'ingest.flushInterval': { kind: 'duration', default: 1000, min: 10, max: 60_000 },
  // -1 (keep forever), 0 (do not store) or 1..3650: every integer of -1..3650.
  'retention.defaultDays': {
    kind: 'integer',
    default: 30,
    min: -1,
    max: 3650,
    hint: '-1 = keep forever, 0 = do not store, 1..3650 days',
  },
  'retention.enforceInterval': { kind: 'duration', default: 3_600_000, min: 0 },
  'retention.bucket': { kind: 'name', default: 'connlog_retention' },
  'adminLog.retentionDays': { kind: 'integer', default: 365, min: 1, max: 3650 },
  'auth.enabled': { kind: 'boolean', default: false },
  'auth.metricsAuth': { kind: 'boolean', default: false },
  'auth.bucket': { kind: 'name', default: 'connlog_apikeys' },
  'http.listen': { kind: 'listen', default: '127.0.0.1:8080' },
  'serviceLog.enabled': { kind: 'boolean', default: false },
  'log.level': { kind: 'level', default: 'info' },
};

/** Secrets: never echoed in error messages. */
const SECRET_KEYS = new Set(['nats.pass', 'nats.token', 'clickhouse.password']);

export const ENV_PREFIX = 'CONNLOG_COLLECTOR_';

/** `nats.stream.maxBytes` → `CONNLOG_COLLECTOR_NATS_STREAM_MAX_BYTES`. */
export function envName(key: string): string {
  return (
    ENV_PREFIX +
    key
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/\./g, '_')
      .toUpperCase()
  );
}

function invalid(key: string, message: string): CollectorError {
  return new CollectorError('CONFIG_INVALID', `config key "${key}": ${message}`);
}

function shown(key: string, value: unknown): string {
  return SECRET_KEYS.has(key) ? '(hidden)' : JSON.stringify(value);
}

/** Validate one value; `fromText` when it came from env or a flag (lists split on commas). */
function coerce(key: string, field: Field, value: unknown, fromText: boolean): unknown {
  const bad = (what: string): CollectorError =>
    invalid(
      key,
      `${what}${field.hint === undefined ? '' : ` (${field.hint})`}, got ${shown(key, value)}`,
    );
  const bounded = (n: number, what: string): number => {
    if (field.min !== undefined && n < field.min)
      throw bad(`${what} must be at least ${field.min}`);
    if (field.max !== undefined && n > field.max) throw bad(`${what} must be at most ${field.max}`);
    return n;
  };
  switch (field.kind) {
    case 'string':
    case 'optionalString':
      if (typeof value !== 'string') throw bad('must be a string');
      return value;
    case 'strings': {
      const list: unknown =
        fromText && typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
      if (
        !Array.isArray(list) ||
        list.length === 0 ||
        !list.every((s) => typeof s === 'string' && s !== '')
      ) {
        throw bad('must be a non-empty list of strings');
      }
      return list;
    }
    case 'integer': {
      const n =
        typeof value === 'string' && fromText && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw bad('must be an integer');
      return bounded(n, 'value');
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (fromText && typeof value === 'string') {
        const text = value.trim().toLowerCase();
        if (text === 'true' || text === '1' || text === 'yes') return true;
        if (text === 'false' || text === '0' || text === 'no') return false;
      }
      throw bad('must be true or false');
    }
    case 'size': {
      const n = parseSize(value);
      if (n === undefined) throw bad('must be a size like 512MiB, 10GB or a number of bytes');
      return bounded(n, 'size');
    }
    case 'duration': {
      const n = parseDuration(value);
      if (n === undefined) throw bad('must be a duration like 500ms, 1s, 2m, 7d or a number of ms');
      return bounded(n, 'duration (ms)');
    }
    case 'listen':
      if (typeof value !== 'string' || !parseListen(value)) throw bad('must be host:port');
      return value;
    case 'level':
      if (typeof value !== 'string' || !LOG_LEVELS.includes(value)) {
        throw bad(`must be one of ${LOG_LEVELS.join(', ')}`);
      }
      return value;
    case 'url': {
      let url: URL | undefined;
      try {
        url = typeof value === 'string' ? new URL(value) : undefined;
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw bad('must be an http:// or https:// URL');
      }
      return value;
    }
    case 'identifier':
      if (typeof value !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(value)) {
        throw bad('must be a plain identifier (letters, digits, _)');
      }
      return value;
    case 'name':
      if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
        throw bad('must be 1-64 letters, digits, _ or -');
      }
      return value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Flatten a YAML object to dotted keys, refusing keys the table does not know. */
function flatten(raw: unknown, prefix: string, out: Map<string, unknown>): void {
  if (!isPlainObject(raw)) {
    throw invalid(prefix === '' ? '(root)' : prefix, 'must be a mapping');
  }
  for (const [name, value] of Object.entries(raw)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (key in CONFIG_FIELDS) {
      if (value !== null && value !== undefined) out.set(key, value);
      continue;
    }
    const isSection = Object.keys(CONFIG_FIELDS).some((known) => known.startsWith(`${key}.`));
    if (!isSection) throw invalid(key, 'unknown key');
    if (value === null || value === undefined) continue;
    flatten(value, key, out);
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (isPlainObject(next)) node = next;
    else {
      const created: Record<string, unknown> = {};
      node[part] = created;
      node = created;
    }
  }
  node[parts[parts.length - 1] ?? key] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Build a config from an already-parsed YAML document, environment variables
 * (`CONNLOG_COLLECTOR_*`) and `key=value` overrides, in that order of precedence
 * (later wins).
 */
export function parseConfig(
  raw: unknown = {},
  env: Readonly<Record<string, string | undefined>> = {},
  overrides: readonly string[] = [],
): CollectorConfig {
  const values = new Map<string, { value: unknown; fromText: boolean }>();
  const fromFile = new Map<string, unknown>();
  flatten(raw ?? {}, '', fromFile);
  for (const [key, value] of fromFile) values.set(key, { value, fromText: false });

  const envKeys = new Map(Object.keys(CONFIG_FIELDS).map((key) => [envName(key), key]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const key = envKeys.get(name);
    if (key === undefined) throw invalid(name, 'unknown environment variable');
    values.set(key, { value, fromText: true });
  }
  for (const override of overrides) {
    const eq = override.indexOf('=');
    const key = eq > 0 ? override.slice(0, eq) : override;
    if (eq <= 0) throw invalid(key, 'override must look like key=value');
    if (!(key in CONFIG_FIELDS)) throw invalid(key, 'unknown key');
    values.set(key, { value: override.slice(eq + 1), fromText: true });
  }

  const config: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(CONFIG_FIELDS)) {
    const given = values.get(key);
    const value = given
      ? coerce(key, field, given.value, given.fromText)
      : structuredClone(field.default);
    if (value !== undefined) setPath(config, key, value);
  }
  const result = config as unknown as CollectorConfig;
  checkCombinations(result);
  return deepFreeze(result);
}

function checkCombinations(config: CollectorConfig): void {
  const { nats, ingest } = config;
  if (config.auth.metricsAuth && !config.auth.enabled) {
    throw invalid('auth.metricsAuth', 'needs auth.enabled: true (there are no keys to check)');
  }
  if (nats.user !== undefined && nats.pass === undefined) {
    throw invalid('nats.pass', 'is required when nats.user is set');
  }
  if (nats.token !== undefined && nats.user !== undefined) {
    throw invalid('nats.token', 'cannot be combined with nats.user');
  }
  if (nats.consumer.maxAckPending < ingest.maxBatchRows) {
    throw invalid(
      'nats.consumer.maxAckPending',
      `must be at least ingest.maxBatchRows (${ingest.maxBatchRows}), or delivery pauses before a batch can fill`,
    );
  }
  if (nats.consumer.ackWait <= ingest.flushInterval * 2) {
    throw invalid(
      'nats.consumer.ackWait',
      `must be more than twice ingest.flushInterval (${ingest.flushInterval} ms), or messages are redelivered while they wait for their insert`,
    );
  }
  if (nats.stream.maxAge !== 0 && nats.stream.duplicateWindow > nats.stream.maxAge) {
    throw invalid('nats.stream.duplicateWindow', 'must not exceed nats.stream.maxAge');
  }
  const { enforceInterval } = config.retention;
  if (enforceInterval !== 0 && enforceInterval < 1000) {
    throw invalid(
      'retention.enforceInterval',
      `must be 0 (off) or at least 1s, got ${enforceInterval} ms`,
    );
  }
  if (config.retention.bucket === config.auth.bucket) {
    throw invalid('auth.bucket', 'must differ from retention.bucket');
  }
  if (nats.stream.name === nats.deadLetter.stream) {
    throw invalid('nats.deadLetter.stream', 'must differ from nats.stream.name');
  }
}

/** Read the YAML file (if any), then apply env and overrides. */
export function loadConfig(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: readonly string[] = [],
): CollectorConfig {
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CollectorError('CONFIG_READ', `cannot read config file ${file}`, { cause: err });
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new CollectorError('CONFIG_READ', `config file ${file} is not valid YAML: ${reason}`, {
        cause: err,
      });
    }
  }
  return parseConfig(raw, env, overrides);
}
