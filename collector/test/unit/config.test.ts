import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_FIELDS, envName, loadConfig, parseConfig } from '../../src/config.js';
import { CollectorError } from '../../src/errors.js';

function failure(fn: () => unknown): CollectorError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CollectorError) return err;
    throw err;
  }
  throw new Error('expected a CollectorError');
}

describe('config', () => {
  it('has documented defaults', () => {
    const config = parseConfig();
    expect(config.dataDir).toBe('./data/collector');
    expect(config.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(config.nats.stream).toEqual({
      name: 'CONNLOG_SESSIONS',
      maxBytes: 1024 ** 3,
      maxAge: 7 * 86_400_000,
      duplicateWindow: 120_000,
      replicas: 1,
    });
    expect(config.nats.consumer).toEqual({
      durable: 'connlog-collector',
      maxAckPending: 100_000,
      ackWait: 60_000,
    });
    expect(config.clickhouse).toEqual({ username: 'default', password: '', database: 'connlog' });
    expect(config.ingest).toEqual({ maxBatchRows: 100_000, flushInterval: 1000 });
    expect(config.retention.defaultDays).toBe(30);
    expect(config.http.listen).toBe('127.0.0.1:8080');
    expect(config.log.level).toBe('info');
  });

  it('is deep-frozen', () => {
    const config = parseConfig();
    expect(Object.isFrozen(config.nats.stream)).toBe(true);
    expect(Object.isFrozen(config.nats.servers)).toBe(true);
  });

  it('reads durations and sizes', () => {
    const config = parseConfig({
      nats: { stream: { maxBytes: '512MiB', maxAge: '1d12h', duplicateWindow: '90s' } },
      ingest: { flushInterval: '250ms', maxBatchRows: 5000 },
    });
    expect(config.nats.stream.maxBytes).toBe(512 * 1024 ** 2);
    expect(config.nats.stream.maxAge).toBe(36 * 3_600_000);
    expect(config.nats.stream.duplicateWindow).toBe(90_000);
    expect(config.ingest.flushInterval).toBe(250);
  });

  it('applies env over file and overrides over env', () => {
    const config = parseConfig(
      { ingest: { maxBatchRows: 100 }, log: { level: 'warn' } },
      {
        CONNLOG_COLLECTOR_INGEST_MAX_BATCH_ROWS: '200',
        CONNLOG_COLLECTOR_NATS_SERVERS: 'nats://a:4222, nats://b:4222',
        CONNLOG_COLLECTOR_CLICKHOUSE_PASSWORD: 's3cret',
        OTHER_VAR: 'ignored',
      },
      ['ingest.maxBatchRows=300'],
    );
    expect(config.ingest.maxBatchRows).toBe(300);
    expect(config.log.level).toBe('warn');
    expect(config.nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(config.clickhouse.password).toBe('s3cret');
  });

  it('names every key in its env variable', () => {
    expect(envName('nats.stream.maxBytes')).toBe('CONNLOG_COLLECTOR_NATS_STREAM_MAX_BYTES');
    expect(envName('dataDir')).toBe('CONNLOG_COLLECTOR_DATA_DIR');
    const names = Object.keys(CONFIG_FIELDS).map(envName);
    expect(new Set(names).size).toBe(names.length);
  });

  const bad: [string, () => unknown, string][] = [
    ['an unknown key', () => parseConfig({ ingest: { maxBatchRow: 1 } }), 'ingest.maxBatchRow'],
    ['an unknown section', () => parseConfig({ kafka: {} }), 'kafka'],
    [
      'a bad duration',
      () => parseConfig({ ingest: { flushInterval: '1 sec' } }),
      'ingest.flushInterval',
    ],
    [
      'a bad size',
      () => parseConfig({ nats: { stream: { maxBytes: 'lots' } } }),
      'nats.stream.maxBytes',
    ],
    ['a bad listen', () => parseConfig({ http: { listen: '8080' } }), 'http.listen'],
    ['a bad level', () => parseConfig({ log: { level: 'loud' } }), 'log.level'],
    ['a bad URL', () => parseConfig({ clickhouse: { url: 'ftp://x' } }), 'clickhouse.url'],
    [
      'a bad database',
      () => parseConfig({ clickhouse: { database: 'a-b' } }),
      'clickhouse.database',
    ],
    [
      'retention over UInt16',
      () => parseConfig({ retention: { defaultDays: 70000 } }),
      'retention.defaultDays',
    ],
    [
      'a list that is not one',
      () => parseConfig({ nats: { servers: 'nats://x' } }),
      'nats.servers',
    ],
    [
      'maxAckPending below the batch',
      () => parseConfig({ nats: { consumer: { maxAckPending: 10 } } }),
      'nats.consumer.maxAckPending',
    ],
    [
      'ackWait not above the flush interval',
      () => parseConfig({ nats: { consumer: { ackWait: '2s' } } }),
      'nats.consumer.ackWait',
    ],
    ['user without pass', () => parseConfig({ nats: { user: 'u' } }), 'nats.pass'],
    [
      'an unknown env var',
      () => parseConfig({}, { CONNLOG_COLLECTOR_NATS_SERVER: 'x' }),
      'CONNLOG_COLLECTOR_NATS_SERVER',
    ],
    [
      'a malformed override',
      () => parseConfig({}, {}, ['ingest.maxBatchRows']),
      'ingest.maxBatchRows',
    ],
  ];
  for (const [what, fn, key] of bad) {
    it(`refuses ${what}, naming ${key}`, () => {
      const err = failure(fn);
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toContain(`"${key}"`);
    });
  }

  it('never echoes a secret in an error', () => {
    const err = failure(() => parseConfig({ clickhouse: { password: 12345 } }));
    expect(err.message).toContain('clickhouse.password');
    expect(err.message).not.toContain('12345');
  });

  it('loads YAML and reports unreadable or invalid files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'connlog-config-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'dataDir: /var/lib/x\nnats:\n  servers: ["nats://n:4222"]\n');
    expect(loadConfig(good, {}).dataDir).toBe('/var/lib/x');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'nats: [unclosed\n');
    expect(failure(() => loadConfig(broken, {})).code).toBe('CONFIG_READ');
    expect(failure(() => loadConfig(join(dir, 'missing.yaml'), {})).code).toBe('CONFIG_READ');
  });
});
