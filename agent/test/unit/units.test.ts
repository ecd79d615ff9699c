import { describe, expect, it } from 'vitest';
import { parseHostPort } from '../../src/config/address.js';
import { parseDuration, parseSize } from '../../src/config/units.js';

describe('parseDuration', () => {
  it.each([
    ['60s', 60_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    [' 10s ', 10_000],
    [250, 250],
    [0, 0],
  ])('%j → %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', 's', '10', '10 sec', '-1s', '1d', 'abc', -1, Number.NaN, Infinity, null, true])(
    'rejects %j',
    (input) => {
      expect(parseDuration(input)).toBeUndefined();
    },
  );
});

describe('parseSize', () => {
  it.each([
    ['16MiB', 16 * 1024 ** 2],
    ['1GiB', 1024 ** 3],
    ['512KiB', 512 * 1024],
    ['1MB', 1_000_000],
    ['100', 100],
    [4096, 4096],
  ])('%j → %i bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each(['', 'MiB', '1 lots', '-1', 1.5, -3])('rejects %j', (input) => {
    expect(parseSize(input)).toBeUndefined();
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:80', { host: '127.0.0.1', port: 80 }],
    ['db.internal:5432', { host: 'db.internal', port: 5432 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
  ])('%s', (input, expected) => {
    expect(parseHostPort(input)).toEqual(expected);
  });

  it.each([
    'x',
    ':80',
    '::1:80',
    '[::1]80',
    'host:',
    'host:65536',
    'ho st:1',
    '[nothost]:1',
    'a:b',
  ])('rejects %s', (input) => {
    expect(parseHostPort(input)).toBeUndefined();
  });
});
