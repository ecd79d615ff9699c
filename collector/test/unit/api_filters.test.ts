import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/errors.js';
import { parseAddress } from '../../src/api/filters/address.js';
import {
  DEFAULT_LIMIT,
  DEFAULT_WINDOW_MS,
  parseExportQuery,
  parseListQuery,
} from '../../src/api/filters/parse.js';
import { buildWhere } from '../../src/api/filters/sql.js';
import { parseTime } from '../../src/api/filters/time.js';
import { encodeCursor } from '../../src/api/cursor.js';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);

function list(query: string) {
  return parseListQuery(new URLSearchParams(query), NOW);
}

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('parseTime', () => {
  it.each([
    ['2024-05-01T12:00:00Z', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T12:00:00.123Z', Date.UTC(2024, 4, 1, 12, 0, 0, 123)],
    ['2024-05-01t12:00:00.1234567z', Date.UTC(2024, 4, 1, 12, 0, 0, 123)],
    ['2024-05-01T14:00:00+02:00', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T07:30:00-04:30', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01 12:00:00Z', Date.UTC(2024, 4, 1, 12)],
    ['1714564800', Date.UTC(2024, 4, 1, 12)],
    ['1714564800.5', Date.UTC(2024, 4, 1, 12, 0, 0, 500)],
    ['0', 0],
  ])('%s → %i', (text, ms) => {
    expect(parseTime(text)).toBe(ms);
  });

  it.each([
    ['2024-02-30T00:00:00Z', /day 30/],
    ['2024-13-01T00:00:00Z', /month 13/],
    ['2024-05-01T24:00:00Z', /time of day/],
    ['2024-05-01T12:00:00', /neither RFC 3339/],
    ['2024-05-01', /neither RFC 3339/],
    ['yesterday', /neither RFC 3339/],
    ['-5', /neither/],
    ['1714564800000', /milliseconds/],
  ])('%s is refused (%s)', (text, why) => {
    expect(parseTime(text)).toMatch(why);
  });
});

describe('parseAddress', () => {
  it.each([
    ['10.1.2.3', { kind: 'ip', ip: '::ffff:10.1.2.3' }],
    ['10.1.2.3:5432', { kind: 'ip', ip: '::ffff:10.1.2.3', port: 5432 }],
    ['2001:DB8::1', { kind: 'ip', ip: '2001:db8::1' }],
    ['[2001:db8::1]:443', { kind: 'ip', ip: '2001:db8::1', port: 443 }],
    ['[::1]', { kind: 'ip', ip: '::1' }],
    ['::ffff:10.0.0.1', { kind: 'ip', ip: '::ffff:10.0.0.1' }],
    ['10.0.0.0/8', { kind: 'cidr', network: '::ffff:10.0.0.0', prefix: 104 }],
    ['0.0.0.0/0', { kind: 'cidr', network: '::ffff:0.0.0.0', prefix: 96 }],
    ['2001:db8::/32', { kind: 'cidr', network: '2001:db8::', prefix: 32 }],
    ['::/0', { kind: 'cidr', network: '::', prefix: 0 }],
  ])('%s', (text, match) => {
    expect(parseAddress(text)).toEqual(match);
  });

  it.each([
    ['10.0.0.0/33', /above 32/],
    ['2001:db8::/129', /above 128/],
    ['10.0.0.0/x', /not a number/],
    ['10.0.0.0/8:80', /not a number/],
    ['10.1.2.3:70000', /above 65535/],
    ['10.1.2.3:http', /not a number/],
    ['2001:db8::1:443:x', /not an IP/],
    ['[2001:db8::1', /missing "]"/],
    ['[10.0.0.1]:80', /not an IPv6/],
    ['fe80::1%eth0', /not an IP/],
    ['300.1.1.1', /not an IP/],
    ["1.2.3.4' OR 1=1 --", /not an IP/],
    ['', /empty/],
  ])('%s is refused (%s)', (text, why) => {
    expect(parseAddress(text)).toMatch(why);
  });
});

describe('parseListQuery', () => {
  it('defaults: last 24 h, limit 100, no count, no cursor', () => {
    const { filters, page } = list('');
    expect(filters.fromMs).toBe(NOW - DEFAULT_WINDOW_MS);
    expect(filters.toMs).toBeUndefined();
    expect(page).toEqual({ limit: DEFAULT_LIMIT, count: false });
  });

  it('reads every filter, repeated ones as lists', () => {
    const cursor = encodeCursor({
      startedAtMs: 1,
      sessionId: '0190a8a0-0000-7000-8000-000000000001',
    });
    const { filters, page } = list(
      [
        'from=2024-05-01T00:00:00Z',
        'to=1714564800',
        'site=berlin',
        'site=paris',
        'resource=db',
        'client=laptop-7',
        'user=alice@example.com',
        'protocol=tcp',
        'source=10.0.0.0/8',
        'dest=[2001:db8::1]:443',
        'destPort=5432',
        'destPort=53',
        'status=completed',
        'closeReason=dial_failed',
        'minBytes=1000',
        'sessionId=0190A8A0-0000-7000-8000-000000000001',
        'limit=1000',
        'count=true',
        `cursor=${cursor}`,
      ].join('&'),
    );
    expect(filters).toEqual({
      fromMs: Date.UTC(2024, 4, 1),
      toMs: Date.UTC(2024, 4, 1, 12),
      sites: ['berlin', 'paris'],
      resources: ['db'],
      clients: ['laptop-7'],
      users: ['alice@example.com'],
      protocols: ['tcp'],
      sources: [{ kind: 'cidr', network: '::ffff:10.0.0.0', prefix: 104 }],
      dests: [{ kind: 'ip', ip: '2001:db8::1', port: 443 }],
      destPorts: [5432, 53],
      statuses: ['completed'],
      closeReasons: ['dial_failed'],
      minBytes: '1000',
      sessionIds: ['0190a8a0-0000-7000-8000-000000000001'],
    });
    expect(page).toEqual({
      limit: 1000,
      count: true,
      cursor: { startedAtMs: 1, sessionId: '0190a8a0-0000-7000-8000-000000000001' },
    });
  });

  it.each([
    ['from=yesterday', 'INVALID_FILTER', 'from'],
    ['to=2024-05-01', 'INVALID_FILTER', 'to'],
    ['from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z', 'INVALID_FILTER', 'from'],
    ['from=1&from=2', 'INVALID_FILTER', 'from'],
    ['site=a.b', 'INVALID_FILTER', 'site'],
    ['site=', 'INVALID_FILTER', 'site'],
    ['user=' + 'x'.repeat(257), 'INVALID_FILTER', 'user'],
    ['client=a%00b', 'INVALID_FILTER', 'client'],
    ['protocol=icmp', 'INVALID_FILTER', 'protocol'],
    ['protocol=TCP', 'INVALID_FILTER', 'protocol'],
    ['source=10.0.0.0/40', 'INVALID_FILTER', 'source'],
    ['dest=example.com', 'INVALID_FILTER', 'dest'],
    ['destPort=65536', 'INVALID_FILTER', 'destPort'],
    ['destPort=-1', 'INVALID_FILTER', 'destPort'],
    ['status=open', 'INVALID_FILTER', 'status'],
    ['closeReason=timeout', 'INVALID_FILTER', 'closeReason'],
    ['minBytes=-1', 'INVALID_FILTER', 'minBytes'],
    ['minBytes=1e6', 'INVALID_FILTER', 'minBytes'],
    ['minBytes=18446744073709551616', 'INVALID_FILTER', 'minBytes'],
    ['sessionId=abc', 'INVALID_FILTER', 'sessionId'],
    ['limit=0', 'INVALID_PARAMETER', 'limit'],
    ['limit=1001', 'INVALID_PARAMETER', 'limit'],
    ['limit=ten', 'INVALID_PARAMETER', 'limit'],
    ['count=yes', 'INVALID_PARAMETER', 'count'],
    ['cursor=abc', 'INVALID_PARAMETER', 'cursor'],
    [
      'cursor=' + Buffer.from("v1:1:x' OR 1=1").toString('base64url'),
      'INVALID_PARAMETER',
      'cursor',
    ],
    ['orgId=acme', 'UNKNOWN_PARAMETER', 'orgId'],
    ['destport=80', 'UNKNOWN_PARAMETER', 'destport'],
  ])('%s → %s naming %s', (query, code, param) => {
    const err = apiError(() => list(query));
    expect(err.code).toBe(code);
    expect(err.param).toBe(param);
    expect(err.status).toBe(400);
    expect(err.message).toContain(param);
  });

  it('bounds the number of values of one filter', () => {
    const query = Array.from({ length: 101 }, (_, i) => `destPort=${i}`).join('&');
    expect(apiError(() => list(query)).message).toMatch(/more than 100/);
  });

  it('export takes the filters but not limit, cursor or count', () => {
    expect(parseExportQuery(new URLSearchParams('site=berlin'), NOW).sites).toEqual(['berlin']);
    expect(apiError(() => parseExportQuery(new URLSearchParams('limit=5'), NOW)).code).toBe(
      'UNKNOWN_PARAMETER',
    );
  });
});

describe('buildWhere', () => {
  it('puts every value in a parameter and only placeholders in the SQL', () => {
    const evil = "x' OR 1=1 --";
    const { filters } = list(
      `user=${encodeURIComponent(evil)}&client=${encodeURIComponent('{p0:String}')}&source=10.0.0.0/8&source=2001:db8::1&dest=10.1.2.3:22&minBytes=5`,
    );
    const where = buildWhere('acme', filters);
    expect(where.sql).not.toContain(evil);
    expect(where.sql).not.toContain('10.');
    expect(where.sql).not.toContain('acme');
    expect(Object.values(where.params)).toContainEqual([evil]);
    expect(Object.values(where.params)).toContainEqual(['{p0:String}']);
    expect(where.sql).toContain('user_id IN {');
    // Two sources are OR-ed together, and AND-ed with the rest.
    expect(where.sql).toMatch(/\(source_ip BETWEEN .* OR source_ip = toIPv6\(\{p\d+:String\}\)\)/);
    expect(where.sql).toMatch(
      /dest_ip = toIPv6\(\{p\d+:String\}\) AND dest_port = \{p\d+:UInt16\}/,
    );
    expect(where.sql).toContain('bytes_tx + bytes_rx >= {');
    expect(where.params).toMatchObject({ p0: 'acme', p1: NOW - DEFAULT_WINDOW_MS });
  });

  it('adds the keyset condition after a cursor', () => {
    const { filters } = list('');
    const where = buildWhere('acme', filters, {
      startedAtMs: 1000,
      sessionId: '0190a8a0-0000-7000-8000-000000000001',
    });
    expect(where.sql).toMatch(/started_at <= (fromUnixTimestamp64Milli\(\{p\d+:Int64\}, 'UTC'\))/);
    expect(where.sql).toMatch(/\(started_at < .* OR session_id < \{p\d+:UUID\}\)/);
    expect(Object.values(where.params)).toContain('0190a8a0-0000-7000-8000-000000000001');
  });
});
