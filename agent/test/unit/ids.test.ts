import { describe, expect, it } from 'vitest';
import { UUID_V7, UuidV7Generator, uuidV7Time } from '../../src/session/ids.js';
import { nth } from './helpers.js';

describe('UuidV7Generator', () => {
  it('mints RFC 9562 version 7 ids carrying the clock in milliseconds', () => {
    const now = 1_750_000_000_123;
    const id = new UuidV7Generator(() => now).next();
    expect(id).toMatch(UUID_V7);
    expect(uuidV7Time(id)).toBe(now);
    expect(id.slice(0, 13)).toBe(
      `${now.toString(16).padStart(12, '0').slice(0, 8)}-${now.toString(16).padStart(12, '0').slice(8)}`,
    );
  });

  it('is strictly increasing within one millisecond, across counter overflow', () => {
    const gen = new UuidV7Generator(() => 1000);
    const ids = Array.from({ length: 10_000 }, () => gen.next());
    for (let i = 1; i < ids.length; i += 1) {
      expect(nth(ids, i) > nth(ids, i - 1)).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // 10 000 ids cannot fit in one millisecond's 4096 counter values: time runs ahead.
    expect(uuidV7Time(nth(ids, -1))).toBeGreaterThan(1000);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });

  it('stays increasing when the clock steps back', () => {
    let now = 5000;
    const gen = new UuidV7Generator(() => now);
    const first = gen.next();
    now = 4000;
    const second = gen.next();
    expect(second > first).toBe(true);
    expect(uuidV7Time(second)).toBe(5000);
    now = 6000;
    expect(uuidV7Time(gen.next())).toBe(6000);
  });

  it('uses fresh randomness in the tail', () => {
    const gen = new UuidV7Generator(() => 42);
    const tails = new Set(Array.from({ length: 100 }, () => gen.next().slice(19)));
    expect(tails.size).toBe(100);
  });
});
