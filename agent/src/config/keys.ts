/** Every key the config accepts, per section (anything else is an "unknown key" error). */
export const CONFIG_KEYS = {
  root: [
    'org',
    'site',
    'agentId',
    'nats',
    'spool',
    'updateInterval',
    'shutdownGrace',
    'dialTimeout',
    'workers',
    'publish',
    'http',
    'log',
    'proxyProtocol',
    'peerMap',
    'resources',
  ],
  nats: ['servers', 'user', 'pass', 'token', 'credsFile', 'name', 'inboxPrefix'],
  spool: ['dir', 'maxBytes', 'segmentBytes', 'fsync', 'fsyncInterval', 'kind'],
  publish: [
    'maxBatchEvents',
    'maxBatchBytes',
    'flushInterval',
    'maxInflight',
    'maxBufferBytes',
    'ackTimeout',
    'drainTimeout',
  ],
  http: ['listen'],
  log: ['level'],
  proxyProtocol: [
    'mode',
    'trustedCidrs',
    'headerTimeout',
    'clientIdTlv',
    'userIdTlv',
    'uniqueIdAsClientId',
    'maxHeaderBytes',
  ],
  peerMap: ['file'],
  resource: [
    'id',
    'protocol',
    'listen',
    'target',
    'dialTimeout',
    'idleTimeout',
    'maxFlows',
    'maxDatagramBytes',
    'proxyProtocol',
    'peerMap',
  ],
} as const;

/** Dotted names of every leaf key (`nats.servers`, `resources[i].id`), for docs checks. */
export function leafConfigKeys(): string[] {
  const sections = new Set([
    'nats',
    'spool',
    'publish',
    'http',
    'log',
    'proxyProtocol',
    'peerMap',
    'resources',
  ]);
  const keys: string[] = CONFIG_KEYS.root.filter((key) => !sections.has(key));
  for (const section of [
    'nats',
    'spool',
    'publish',
    'http',
    'log',
    'proxyProtocol',
    'peerMap',
  ] as const) {
    for (const key of CONFIG_KEYS[section]) keys.push(`${section}.${key}`);
  }
  for (const key of CONFIG_KEYS.resource) keys.push(`resources[i].${key}`);
  return keys;
}
