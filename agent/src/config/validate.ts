import { isValidToken, MAX_BATCH_BYTES } from '@connlog/proto';
import { formatHostPort, parseHostPort } from './address.js';
import { DEFAULTS } from './defaults.js';
import { CONFIG_KEYS } from './keys.js';
import { deepFreeze } from './freeze.js';
import type {
  AgentConfig,
  FsyncPolicy,
  HttpConfig,
  LogConfig,
  LogLevel,
  NatsConfig,
  PeerMapConfig,
  ProxyProtocolConfig,
  PublishConfig,
  ResourceConfig,
  SpoolConfig,
} from './options.js';
import {
  PROXY_PROTOCOL_DEFAULTS,
  readPeerMap,
  readProxyProtocolKeys,
  resolveProxyProtocolConfig,
} from './proxy_protocol.js';
import { ConfigReader, join, show } from './reader.js';
import { parseDuration, parseSize } from './units.js';

const DURATION_FORMS = 'a duration like "60s", "500ms", "2m" or a number of milliseconds';
const SIZE_FORMS = 'a size like "16MiB", "512KiB" or a number of bytes';
const DAY = 86_400_000;
const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];
const FSYNC: readonly FsyncPolicy[] = ['always', 'interval', 'never'];
/** Room for the batch header and recording gaps next to the events. */
const BATCH_HEADER_ROOM = 16 * 1024;

/**
 * Validate a raw config tree (parsed YAML with env and flag overrides applied), fill in
 * defaults and return it deep-frozen. Throws `AgentError` `CONFIG_INVALID` naming the
 * first offending key. `sources` maps overridden keys to their env var or flag.
 */
export function parseConfig(raw: unknown, sources?: ReadonlyMap<string, string>): AgentConfig {
  const r = new ConfigReader(sources);
  const root = r.object(raw ?? {}, '', CONFIG_KEYS.root);
  const token = (key: 'org' | 'site'): string => {
    if (root[key] === undefined || root[key] === null) r.fail(key, 'is required');
    const value = r.string(root[key], key);
    if (!isValidToken(value)) {
      r.fail(key, `expected 1-64 characters of A-Z a-z 0-9 _ -, got ${show(value)}`);
    }
    return value;
  };
  const org = token('org');
  const site = token('site');
  const agentId = r.optionalString(root.agentId, 'agentId');
  if (agentId !== undefined && !isValidToken(agentId)) {
    r.fail('agentId', `expected 1-64 characters of A-Z a-z 0-9 _ -, got ${show(agentId)}`);
  }
  const duration = (value: unknown, path: string, fallback: number, min = 1): number =>
    r.measure(value, path, parseDuration, DURATION_FORMS, { min, max: DAY }, fallback);
  const dialTimeout = duration(root.dialTimeout, 'dialTimeout', DEFAULTS.dialTimeout);
  const proxyProtocol = parseTopProxyProtocol(r, root.proxyProtocol);
  const peerMap = readPeerMap(r, root.peerMap);
  const config: AgentConfig = {
    org,
    site,
    agentId,
    nats: parseNats(r, root.nats, org, site),
    spool: parseSpool(r, root.spool, duration),
    updateInterval: duration(root.updateInterval, 'updateInterval', DEFAULTS.updateInterval, 10),
    shutdownGrace: duration(root.shutdownGrace, 'shutdownGrace', DEFAULTS.shutdownGrace, 0),
    dialTimeout,
    workers: r.integer(root.workers, 'workers', 1, DEFAULTS.maxWorkers, DEFAULTS.workers),
    publish: parsePublish(r, root.publish, duration),
    http: parseHttp(r, root.http),
    log: parseLog(r, root.log),
    proxyProtocol,
    peerMap,
    resources: parseResources(r, root.resources, { dialTimeout, proxyProtocol, peerMap }, duration),
  };
  return deepFreeze(config);
}

/**
 * The top-level `proxyProtocol`: every key checked where it is written. Trusted CIDRs
 * are required here when the top-level mode is not `off`, so the error names the key
 * the operator wrote rather than the first resource that inherits it.
 */
function parseTopProxyProtocol(r: ConfigReader, raw: unknown): ProxyProtocolConfig {
  const keys = readProxyProtocolKeys(r, raw, 'proxyProtocol');
  const top = resolveProxyProtocolConfig(
    r,
    PROXY_PROTOCOL_DEFAULTS,
    { ...keys, mode: 'off' },
    'proxyProtocol',
  );
  const mode = keys.mode ?? 'off';
  if (mode !== 'off' && top.trustedCidrs.length === 0) {
    r.fail('proxyProtocol.trustedCidrs', `must list at least one IP or CIDR when mode is ${mode}`);
  }
  return { ...top, mode };
}

type DurationReader = (value: unknown, path: string, fallback: number, min?: number) => number;

function parseNats(r: ConfigReader, raw: unknown, org: string, site: string): NatsConfig {
  const nats = r.object(raw ?? {}, 'nats', CONFIG_KEYS.nats);
  let servers: string[] = [...DEFAULTS.natsServers];
  if (nats.servers !== undefined && nats.servers !== null) {
    const list =
      typeof nats.servers === 'string' ? [nats.servers] : r.array(nats.servers, 'nats.servers');
    if (list.length === 0) r.fail('nats.servers', 'expected at least one server URL');
    servers = list.map((entry, i) => {
      const path = `nats.servers[${i}]`;
      const url = r.string(entry, path).trim();
      if (!/^(nats|tls|ws|wss):\/\/[^\s/]+$/.test(url) && parseHostPort(url) === undefined) {
        r.fail(path, `expected a URL like nats://host:4222, got ${show(url)}`);
      }
      return url;
    });
  }
  const user = r.optionalString(nats.user, 'nats.user');
  const pass = r.optionalString(nats.pass, 'nats.pass', true);
  const token = r.optionalString(nats.token, 'nats.token', true);
  const credsFile = r.optionalString(nats.credsFile, 'nats.credsFile');
  if ((user === undefined) !== (pass === undefined)) {
    r.fail(user === undefined ? 'nats.user' : 'nats.pass', 'user and pass go together');
  }
  const methods = [user, token, credsFile].filter((value) => value !== undefined).length;
  if (methods > 1) r.fail('nats', 'choose one of user/pass, token or credsFile');
  const inboxPrefix = r.stringOr(nats.inboxPrefix, 'nats.inboxPrefix', DEFAULTS.natsInboxPrefix);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(inboxPrefix)) {
    r.fail('nats.inboxPrefix', `expected a subject without wildcards, got ${show(inboxPrefix)}`);
  }
  return {
    servers,
    user,
    pass,
    token,
    credsFile,
    name: r.stringOr(nats.name, 'nats.name', `connlog-agent/${org}/${site}`),
    inboxPrefix,
  };
}

function parseSpool(r: ConfigReader, raw: unknown, duration: DurationReader): SpoolConfig {
  const spool = r.object(raw ?? {}, 'spool', CONFIG_KEYS.spool);
  const dir = r.stringOr(spool.dir, 'spool.dir', DEFAULTS.spoolDir);
  if (dir === '') r.fail('spool.dir', 'must not be empty');
  const size = (key: string, fallback: number, min: number, max: number): number =>
    r.measure(spool[key], `spool.${key}`, parseSize, SIZE_FORMS, { min, max }, fallback);
  const maxBytes = size('maxBytes', DEFAULTS.spoolMaxBytes, 64 * 1024, 2 ** 50);
  // The disk spool reads one segment at a time into memory while recovering.
  const segmentBytes = size(
    'segmentBytes',
    Math.min(DEFAULTS.spoolSegmentBytes, maxBytes),
    4096,
    2 ** 30,
  );
  if (segmentBytes > maxBytes) {
    r.fail('spool.segmentBytes', `must not exceed spool.maxBytes (${maxBytes})`);
  }
  return {
    dir,
    maxBytes,
    segmentBytes,
    fsync: r.oneOf(spool.fsync, 'spool.fsync', FSYNC, DEFAULTS.spoolFsync),
    fsyncInterval: duration(
      spool.fsyncInterval,
      'spool.fsyncInterval',
      DEFAULTS.spoolFsyncInterval,
    ),
    kind: r.oneOf(spool.kind, 'spool.kind', ['disk', 'memory'] as const, DEFAULTS.spoolKind),
  };
}

function parsePublish(r: ConfigReader, raw: unknown, duration: DurationReader): PublishConfig {
  const publish = r.object(raw ?? {}, 'publish', CONFIG_KEYS.publish);
  const maxBatchBytes = r.measure(
    publish.maxBatchBytes,
    'publish.maxBatchBytes',
    parseSize,
    SIZE_FORMS,
    { min: 4096, max: MAX_BATCH_BYTES - BATCH_HEADER_ROOM },
    DEFAULTS.maxBatchBytes,
  );
  const maxBufferBytes = r.measure(
    publish.maxBufferBytes,
    'publish.maxBufferBytes',
    parseSize,
    SIZE_FORMS,
    { min: maxBatchBytes, max: 2 ** 40 },
    DEFAULTS.maxBufferBytes,
  );
  return {
    maxBatchEvents: r.integer(
      publish.maxBatchEvents,
      'publish.maxBatchEvents',
      1,
      100_000,
      DEFAULTS.maxBatchEvents,
    ),
    maxBatchBytes,
    flushInterval: duration(publish.flushInterval, 'publish.flushInterval', DEFAULTS.flushInterval),
    maxInflight: r.integer(
      publish.maxInflight,
      'publish.maxInflight',
      1,
      1024,
      DEFAULTS.maxInflight,
    ),
    maxBufferBytes,
    ackTimeout: duration(publish.ackTimeout, 'publish.ackTimeout', DEFAULTS.ackTimeout, 100),
    drainTimeout: duration(publish.drainTimeout, 'publish.drainTimeout', DEFAULTS.drainTimeout, 0),
  };
}

function parseHttp(r: ConfigReader, raw: unknown): HttpConfig {
  const http = r.object(raw ?? {}, 'http', CONFIG_KEYS.http);
  const listen = r.stringOr(http.listen, 'http.listen', DEFAULTS.httpListen).trim();
  if (listen !== '' && parseHostPort(listen) === undefined) {
    r.fail('http.listen', `expected host:port or "" (disabled), got ${show(listen)}`);
  }
  return { listen };
}

function parseLog(r: ConfigReader, raw: unknown): LogConfig {
  const log = r.object(raw ?? {}, 'log', CONFIG_KEYS.log);
  return { level: r.oneOf(log.level, 'log.level', LOG_LEVELS, DEFAULTS.logLevel) };
}

function parseResources(
  r: ConfigReader,
  raw: unknown,
  inherited: {
    dialTimeout: number;
    proxyProtocol: ProxyProtocolConfig;
    peerMap: PeerMapConfig | undefined;
  },
  duration: DurationReader,
): ResourceConfig[] {
  if (raw === undefined || raw === null) r.fail('resources', 'is required (at least one)');
  const list = r.array(raw, 'resources');
  if (list.length === 0) r.fail('resources', 'expected at least one resource');
  const ids = new Set<string>();
  const listens = new Set<string>();
  return list.map((entry, i) => {
    const path = `resources[${i}]`;
    const resource = r.object(entry, path, CONFIG_KEYS.resource);
    const field = (key: string): string => {
      if (resource[key] === undefined || resource[key] === null)
        r.fail(join(path, key), 'is required');
      return r.string(resource[key], join(path, key));
    };
    const id = field('id');
    if (!isValidToken(id)) {
      r.fail(`${path}.id`, `expected 1-64 characters of A-Z a-z 0-9 _ -, got ${show(id)}`);
    }
    if (ids.has(id)) r.fail(`${path}.id`, `duplicate resource id ${show(id)}`);
    ids.add(id);
    const protocol = field('protocol');
    if (protocol !== 'tcp' && protocol !== 'udp') {
      r.fail(`${path}.protocol`, `expected tcp or udp, got ${show(protocol)}`);
    }
    const listen = field('listen');
    const listenAddress = parseHostPort(listen);
    if (listenAddress === undefined)
      r.fail(`${path}.listen`, `expected host:port, got ${show(listen)}`);
    const listenKey = `${protocol}/${formatHostPort(listenAddress.host, listenAddress.port)}`;
    if (listenAddress.port !== 0 && listens.has(listenKey)) {
      r.fail(`${path}.listen`, `another resource already listens on ${show(listen)}`);
    }
    listens.add(listenKey);
    const target = field('target');
    const targetAddress = parseHostPort(target);
    if (targetAddress === undefined || targetAddress.port === 0) {
      r.fail(`${path}.target`, `expected host:port with a port 1-65535, got ${show(target)}`);
    }
    if (protocol === 'tcp') {
      for (const key of ['idleTimeout', 'maxFlows', 'maxDatagramBytes']) {
        if (resource[key] !== undefined) r.fail(`${path}.${key}`, 'only applies to udp resources');
      }
    }
    return {
      id,
      protocol,
      listen,
      target,
      dialTimeout: duration(resource.dialTimeout, `${path}.dialTimeout`, inherited.dialTimeout),
      idleTimeout: duration(resource.idleTimeout, `${path}.idleTimeout`, DEFAULTS.udpIdleTimeout),
      maxFlows: r.integer(
        resource.maxFlows,
        `${path}.maxFlows`,
        1,
        1_000_000,
        DEFAULTS.udpMaxFlows,
      ),
      maxDatagramBytes: r.measure(
        resource.maxDatagramBytes,
        `${path}.maxDatagramBytes`,
        parseSize,
        SIZE_FORMS,
        { min: 1, max: 65_535 },
        DEFAULTS.udpMaxDatagramBytes,
      ),
      peerMap: readPeerMap(r, resource.peerMap, `${path}.peerMap`) ?? inherited.peerMap,
      proxyProtocol: resolveProxyProtocolConfig(
        r,
        inherited.proxyProtocol,
        readProxyProtocolKeys(r, resource.proxyProtocol, `${path}.proxyProtocol`),
        `${path}.proxyProtocol`,
      ),
    };
  });
}
