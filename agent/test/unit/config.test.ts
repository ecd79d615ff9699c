import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/validate.js';

const minimal = {
  org: 'acme',
  site: 'berlin',
  nats: { servers: ['nats://127.0.0.1:4222'] },
  spool: { dir: './data/agent-spool' },
  resources: [{ id: 'db', protocol: 'tcp', listen: '127.0.0.1:15432', target: '10.0.0.5:5432' }],
};

function errorOf(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AgentError) return err;
    throw err;
  }
  throw new Error('expected an AgentError');
}

function withResource(patch: Record<string, unknown>, index = 0): unknown {
  const resources = [
    ...minimal.resources,
    { id: 'web', protocol: 'tcp', listen: '127.0.0.1:8080', target: 'web.internal:80' },
  ];
  resources[index] = { ...resources[index], ...patch } as (typeof resources)[number];
  return { ...minimal, resources };
}

describe('parseConfig', () => {
  it('accepts the minimal config and fills every default', () => {
    const config = parseConfig(minimal);
    expect(config.org).toBe('acme');
    expect(config.agentId).toBeUndefined();
    expect(config.updateInterval).toBe(60_000);
    expect(config.shutdownGrace).toBe(10_000);
    expect(config.dialTimeout).toBe(10_000);
    expect(config.spool).toEqual({
      dir: './data/agent-spool',
      maxBytes: 1024 ** 3,
      segmentBytes: 16 * 1024 ** 2,
      fsync: 'interval',
      fsyncInterval: 1000,
      kind: 'disk',
    });
    expect(config.publish.maxBatchEvents).toBe(1000);
    expect(config.publish.maxBatchBytes).toBe(512 * 1024);
    expect(config.publish.flushInterval).toBe(1000);
    expect(config.publish.maxInflight).toBe(16);
    expect(config.workers).toBe(1);
    expect(config.http.listen).toBe('127.0.0.1:9464');
    expect(config.log.level).toBe('info');
    expect(config.nats.name).toBe('connlog-agent/acme/berlin');
    expect(config.nats.inboxPrefix).toBe('_INBOX');
    expect(config.resources[0]?.dialTimeout).toBe(10_000);
  });

  it('deep-freezes the result', () => {
    const config = parseConfig(minimal);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.resources[0])).toBe(true);
    expect(Object.isFrozen(config.nats.servers)).toBe(true);
    expect(() => {
      (config.spool as { dir: string }).dir = 'x';
    }).toThrow(TypeError);
  });

  it('accepts durations as text or milliseconds', () => {
    const config = parseConfig({
      ...minimal,
      updateInterval: '2m',
      shutdownGrace: 0,
      dialTimeout: '500ms',
      publish: { flushInterval: 250 },
      resources: [{ ...minimal.resources[0], dialTimeout: '3s' }],
    });
    expect(config.updateInterval).toBe(120_000);
    expect(config.shutdownGrace).toBe(0);
    expect(config.dialTimeout).toBe(500);
    expect(config.publish.flushInterval).toBe(250);
    expect(config.resources[0]?.dialTimeout).toBe(3000);
  });

  it('names the key of a bad listen address', () => {
    const err = errorOf(() => parseConfig(withResource({ listen: 'x' }, 1)));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe('resources[1].listen: expected host:port, got "x"');
  });

  it.each([
    [{ org: 'a b' }, /^org: expected 1-64 characters/],
    [{ org: undefined }, /^org: is required/],
    [{ site: 'x'.repeat(65) }, /^site: expected 1-64 characters/],
    [{ updateInterval: '10 parsecs' }, /^updateInterval: expected a duration like "60s"/],
    [{ dialTimeout: -5 }, /^dialTimeout: expected a duration/],
    [
      { spool: { dir: '/x', fsync: 'sometimes' } },
      /^spool\.fsync: expected one of always, interval, never, got "sometimes"/,
    ],
    [{ spool: { dir: '/x', maxBytes: 'lots' } }, /^spool\.maxBytes: expected a size/],
    [{ spool: { dir: '/x', kind: 'tape' } }, /^spool\.kind: expected one of disk, memory/],
    [{ publish: { maxInflight: 0 } }, /^publish\.maxInflight: must be between 1 and 1024, got 0/],
    [{ workers: 0 }, /^workers: must be between 1 and 64, got 0/],
    [{ workers: 2.5 }, /^workers: expected an integer, got 2\.5/],
    [{ workers: 'many' }, /^workers: expected an integer, got "many"/],
    [{ publish: { maxBatchBytes: '2MiB' } }, /^publish\.maxBatchBytes: must be between/],
    [{ http: { listen: 'nowhere' } }, /^http\.listen: expected host:port or ""/],
    [{ log: { level: 'loud' } }, /^log\.level: expected one of fatal, error/],
    [{ nats: { servers: [] } }, /^nats\.servers: expected at least one/],
    [{ nats: { servers: ['http://x y'] } }, /^nats\.servers\[0\]: expected a URL/],
    [{ nats: { user: 'u' } }, /^nats\.pass: user and pass go together/],
    [{ nats: { token: 't', credsFile: '/c' } }, /^nats: choose one of/],
    [{ resources: [] }, /^resources: expected at least one resource/],
    [{ resources: undefined }, /^resources: is required/],
  ])('rejects %j', (patch, message) => {
    expect(errorOf(() => parseConfig({ ...minimal, ...patch })).message).toMatch(message);
  });

  it('never echoes a secret in an error', () => {
    const err = errorOf(() => parseConfig({ ...minimal, nats: { user: 'u', pass: 12345 } }));
    expect(err.message).toBe('nats.pass: expected a string');
  });

  it('rejects unknown keys, at any depth, naming them', () => {
    expect(errorOf(() => parseConfig({ ...minimal, colour: 'blue' })).message).toMatch(
      /^colour: unknown key \(known keys: org, site/,
    );
    expect(
      errorOf(() => parseConfig({ ...minimal, spool: { dir: '/x', sise: 1 } })).message,
    ).toMatch(/^spool\.sise: unknown key/);
    expect(errorOf(() => parseConfig(withResource({ port: 1 }, 1))).message).toMatch(
      /^resources\[1\]\.port: unknown key/,
    );
  });

  it.each([
    [{ id: 'db' }, 1, /^resources\[1\]\.id: duplicate resource id "db"/],
    [{ protocol: 'sctp' }, 0, /^resources\[0\]\.protocol: expected tcp or udp, got "sctp"/],
    [{ target: 'host' }, 0, /^resources\[0\]\.target: expected host:port with a port 1-65535/],
    [{ target: 'host:0' }, 0, /^resources\[0\]\.target: expected host:port/],
    [{ listen: '127.0.0.1:99999' }, 0, /^resources\[0\]\.listen: expected host:port/],
    [{ listen: '127.0.0.1:15432' }, 1, /^resources\[1\]\.listen: another resource already listens/],
    [{ dialTimeout: 'soon' }, 1, /^resources\[1\]\.dialTimeout: expected a duration/],
    [{ target: undefined }, 0, /^resources\[0\]\.target: is required/],
  ])('rejects resource %j at index %i', (patch, index, message) => {
    expect(errorOf(() => parseConfig(withResource(patch, index))).message).toMatch(message);
  });

  it('accepts udp resources with their idle timeout, flow bound and datagram bound', () => {
    const config = parseConfig(
      withResource(
        { protocol: 'udp', idleTimeout: '5s', maxFlows: 10, maxDatagramBytes: '1KiB' },
        1,
      ),
    );
    expect(config.resources[1]).toMatchObject({
      protocol: 'udp',
      idleTimeout: 5000,
      maxFlows: 10,
      maxDatagramBytes: 1024,
    });
    expect(parseConfig(withResource({ protocol: 'udp' }, 1)).resources[1]).toMatchObject({
      idleTimeout: 60_000,
      maxFlows: 4096,
      maxDatagramBytes: 65_535,
    });
    expect(
      errorOf(() => parseConfig(withResource({ protocol: 'udp', maxDatagramBytes: 70_000 }, 1)))
        .message,
    ).toBe('resources[1].maxDatagramBytes: must be between 1 and 65535, got 70000');
  });

  it('rejects udp-only keys on tcp resources', () => {
    expect(errorOf(() => parseConfig(withResource({ idleTimeout: '5s' }, 1))).message).toBe(
      'resources[1].idleTimeout: only applies to udp resources',
    );
    expect(errorOf(() => parseConfig(withResource({ maxDatagramBytes: 512 }, 1))).message).toBe(
      'resources[1].maxDatagramBytes: only applies to udp resources',
    );
  });

  it('allows tcp and udp on the same address', () => {
    const both = withResource({ protocol: 'udp', listen: '127.0.0.1:15432' }, 1);
    expect(parseConfig(both).resources).toHaveLength(2);
  });

  it('accepts IPv6 and host names in addresses', () => {
    const config = parseConfig(withResource({ listen: '[::1]:0', target: 'db.internal:5432' }));
    expect(config.resources[0]?.listen).toBe('[::1]:0');
    expect(config.resources[0]?.target).toBe('db.internal:5432');
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'connlog-agent-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    [
      'org: acme',
      'site: berlin',
      'nats: { servers: ["nats://127.0.0.1:4222"] }',
      'spool: { dir: ./data/agent-spool }',
      'resources:',
      '  - { id: db, protocol: tcp, listen: "127.0.0.1:15432", target: "10.0.0.5:5432" }',
    ].join('\n'),
  );

  it('reads the YAML file', () => {
    const config = loadConfig(file, {});
    expect(config.site).toBe('berlin');
    expect(config.resources).toHaveLength(1);
  });

  it('lets env override the file and flags override env', () => {
    const env = {
      CONNLOG_AGENT_ORG: 'envorg',
      CONNLOG_AGENT_SITE: 'envsite',
      CONNLOG_AGENT_NATS_SERVERS: 'nats://a:4222, nats://b:4222',
      CONNLOG_AGENT_LOG_LEVEL: 'debug',
      CONNLOG_AGENT_NATS_TOKEN: 's3cret',
    };
    const fromEnv = loadConfig(file, env);
    expect(fromEnv.org).toBe('envorg');
    expect(fromEnv.nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(fromEnv.log.level).toBe('debug');
    expect(fromEnv.nats.token).toBe('s3cret');
    const fromFlags = loadConfig(file, env, {
      org: 'flagorg',
      nats: 'nats://c:4222',
      httpListen: '',
      logLevel: 'warn',
    });
    expect(fromFlags.org).toBe('flagorg');
    expect(fromFlags.site).toBe('envsite');
    expect(fromFlags.nats.servers).toEqual(['nats://c:4222']);
    expect(fromFlags.http.listen).toBe('');
    expect(fromFlags.log.level).toBe('warn');
  });

  it('names the env var or flag a bad value came from', () => {
    expect(errorOf(() => loadConfig(file, { CONNLOG_AGENT_SITE: 'bad site' })).message).toMatch(
      /^site: .* \(from env CONNLOG_AGENT_SITE\)$/,
    );
    expect(errorOf(() => loadConfig(file, {}, { logLevel: 'chatty' })).message).toMatch(
      /^log\.level: .* \(from flag --log-level\)$/,
    );
    expect(errorOf(() => loadConfig(file, {}, { nats: 'not a url' })).message).toMatch(
      /^nats\.servers\[0\]: .* \(from flag --nats\)$/,
    );
  });

  it('fails clearly on a missing file or bad YAML', () => {
    const missing = errorOf(() => loadConfig(join(dir, 'nope.yaml'), {}));
    expect(missing.code).toBe('CONFIG_READ');
    expect(missing.message).toMatch(/cannot read config file .*nope\.yaml/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'org: [unclosed');
    expect(errorOf(() => loadConfig(bad, {})).code).toBe('CONFIG_READ');
  });
});
