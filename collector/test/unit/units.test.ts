import { describe, expect, it } from 'vitest';
import { parseDuration, parseListen, parseSize } from '../../src/units.js';

describe('units', () => {
  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('250')).toBe(250);
    for (const bad of ['', 'one', '1x', 's', '-1s', '1.5s', -5, 1.5, null]) {
      expect(parseDuration(bad)).toBeUndefined();
    }
  });

  it('parses sizes', () => {
    expect(parseSize('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseSize('10GB')).toBe(10 * 1000 ** 3);
    expect(parseSize('1.5 KiB')).toBe(1536);
    expect(parseSize(1024)).toBe(1024);
    expect(parseSize('1024')).toBe(1024);
    expect(parseSize('12 parsecs')).toBeUndefined();
    expect(parseSize(-1)).toBeUndefined();
  });

  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9000')).toEqual({ host: '', port: 9000 });
    expect(parseListen('localhost')).toBeUndefined();
    expect(parseListen('h:70000')).toBeUndefined();
  });
});
