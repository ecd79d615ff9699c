import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { migrations, saturatingTtl } from '../../src/store/schema.js';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
  }
  throw new Error('expected an error');
}

describe('config: retention, admin log, auth, service log', () => {
  it('has the documented defaults', () => {
    const config = parseConfig({});
    expect(config.retention).toEqual({
      defaultDays: 30,
      enforceInterval: 3_600_000,
      bucket: 'connlog_retention',
    });
    expect(config.adminLog).toEqual({ retentionDays: 365 });
    expect(config.auth).toEqual({ enabled: false, metricsAuth: false, bucket: 'connlog_apikeys' });
    expect(config.serviceLog).toEqual({ enabled: false });
  });

  it('accepts -1 (forever), 0 (do not store) and 1..3650 as defaultDays', () => {
    for (const days of [-1, 0, 1, 3650]) {
      expect(parseConfig({ retention: { defaultDays: days } }).retention.defaultDays).toBe(days);
    }
    expect(
      parseConfig({}, { CONNLOG_COLLECTOR_RETENTION_DEFAULT_DAYS: '-1' }).retention.defaultDays,
    ).toBe(-1);
  });

  it.each([-2, 3651, 36500, 1.5, '30'])(
    'refuses defaultDays %s naming the key and the values',
    (days) => {
      const err = errorOf(() => parseConfig({ retention: { defaultDays: days } }));
      expect(err.message).toContain('retention.defaultDays');
      expect(err.message).toMatch(
        /-1 = keep forever, 0 = do not store, 1\.\.3650|must be an integer/,
      );
    },
  );

  it('parses booleans from YAML, env and flags, and refuses others', () => {
    expect(parseConfig({ auth: { enabled: true } }).auth.enabled).toBe(true);
    expect(parseConfig({}, { CONNLOG_COLLECTOR_AUTH_ENABLED: 'true' }).auth.enabled).toBe(true);
    expect(parseConfig({}, {}, ['serviceLog.enabled=yes']).serviceLog.enabled).toBe(true);
    expect(parseConfig({}, {}, ['auth.enabled=0']).auth.enabled).toBe(false);
    expect(errorOf(() => parseConfig({ auth: { enabled: 'true' } })).message).toContain(
      'config key "auth.enabled": must be true or false',
    );
    expect(errorOf(() => parseConfig({}, {}, ['auth.enabled=maybe'])).message).toContain(
      'auth.enabled',
    );
  });

  it('takes enforceInterval as a duration: 0 = off, else at least 1s', () => {
    expect(parseConfig({ retention: { enforceInterval: '5m' } }).retention.enforceInterval).toBe(
      300_000,
    );
    expect(parseConfig({ retention: { enforceInterval: 0 } }).retention.enforceInterval).toBe(0);
    expect(
      errorOf(() => parseConfig({ retention: { enforceInterval: '500ms' } })).message,
    ).toContain('retention.enforceInterval');
  });

  it('bounds adminLog.retentionDays to 1..3650', () => {
    expect(parseConfig({ adminLog: { retentionDays: 3650 } }).adminLog.retentionDays).toBe(3650);
    for (const days of [0, -1, 3651]) {
      expect(errorOf(() => parseConfig({ adminLog: { retentionDays: days } })).message).toContain(
        'adminLog.retentionDays',
      );
    }
  });

  it('refuses metricsAuth without auth, and one bucket for two things', () => {
    expect(errorOf(() => parseConfig({ auth: { metricsAuth: true } })).message).toContain(
      'auth.metricsAuth',
    );
    expect(parseConfig({ auth: { enabled: true, metricsAuth: true } }).auth.metricsAuth).toBe(true);
    expect(
      errorOf(() => parseConfig({ auth: { bucket: 'x' }, retention: { bucket: 'x' } })).message,
    ).toContain('auth.bucket');
  });
});

describe('schema: saturating TTL migration', () => {
  it('replaces both TTLs with the saturating expression, as a metadata-only change', () => {
    const last = migrations({ database: 'connlog' }).find((m) => m.name === 'saturating TTL');
    expect(last?.version).toBe(4);
    expect(last?.statements).toEqual([
      `ALTER TABLE connlog.sessions MODIFY TTL ${saturatingTtl('started_at')} SETTINGS materialize_ttl_after_modify = 0`,
      `ALTER TABLE connlog.admin_actions MODIFY TTL ${saturatingTtl('timestamp')} SETTINGS materialize_ttl_after_modify = 0`,
    ]);
    expect(saturatingTtl('started_at')).toBe(
      'toDateTime(least(toUInt64(toUnixTimestamp(started_at)) + toUInt64(retention_days) * 86400, 4294967295))',
    );
  });

  it('alters the local tables ON CLUSTER on a cluster', () => {
    const last = migrations({ database: 'connlog', cluster: 'prod' }).find(
      (m) => m.name === 'saturating TTL',
    );
    expect(last?.statements[0]).toMatch(
      /^ALTER TABLE connlog\.sessions_local ON CLUSTER prod MODIFY TTL /,
    );
    expect(last?.statements[1]).toMatch(
      /^ALTER TABLE connlog\.admin_actions_local ON CLUSTER prod MODIFY TTL /,
    );
  });
});
