import { describe, expect, it } from 'vitest';
import { CidrTable, contains, formatIp, parseCidr, parseIp } from '../../src/identity/index.js';

describe('IP parsing', () => {
  it('holds IPv4 in mapped form and formats canonically', () => {
    const v4 = parseIp('192.0.2.1');
    expect(v4?.version).toBe(4);
    expect(formatIp(v4?.bytes ?? new Uint8Array())).toBe('::ffff:192.0.2.1');
    expect(formatIp(Uint8Array.from([10, 0, 0, 1]))).toBe('10.0.0.1');
    expect(formatIp(parseIp('2001:0DB8:0000::0001')?.bytes ?? new Uint8Array())).toBe(
      '2001:db8::1',
    );
    expect(parseIp('fe80::1%eth0')).toBeUndefined();
    expect(parseIp('fe80::1%eth0', { allowZone: true })?.version).toBe(6);
    expect(parseIp('1.2.3')).toBeUndefined();
    expect(parseIp('')).toBeUndefined();
  });
});

describe('CIDR', () => {
  it('parses IPv4, IPv6 and plain addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toMatchObject({
      text: '10.0.0.0/8',
      version: 4,
      prefixLength: 8,
      bits: 104,
    });
    expect(parseCidr('2001:DB8::/32')).toMatchObject({
      text: '2001:db8::/32',
      version: 6,
      prefixLength: 32,
      bits: 32,
    });
    expect(parseCidr('192.0.2.7')).toMatchObject({ text: '192.0.2.7/32', prefixLength: 32 });
    expect(parseCidr('::1')).toMatchObject({ text: '::1/128', prefixLength: 128 });
    expect(parseCidr('0.0.0.0/0').text).toBe('0.0.0.0/0');
  });

  it.each([
    ['10.0.0.0/33', /prefix length must be 0..32/],
    ['::/129', /prefix length must be 0..128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.256/32', /not an IPv4 or IPv6 address/],
    ['10.0.0.1/8', /host bits are set \(did you mean 10.0.0.0\/8\?\)/],
    ['2001:db8::1/32', /did you mean 2001:db8::\/32/],
    ['fe80::1%eth0/64', /not an IPv4 or IPv6 address/],
    ['example.com/24', /not an IPv4 or IPv6 address/],
  ])('rejects %s', (text, why) => {
    expect(() => parseCidr(text, 'peers[3].cidr')).toThrow(why);
    expect(() => parseCidr(text, 'peers[3].cidr')).toThrow(/^peers\[3\]\.cidr: invalid CIDR/);
  });

  it('matches IPv4, IPv6 and IPv4-mapped IPv6', () => {
    expect(contains('10.0.0.0/8', '10.255.1.2')).toBe(true);
    expect(contains('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(contains('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(contains('10.0.0.0/8', '::ffff:11.1.2.3')).toBe(false);
    expect(contains('100.64.0.0/10', '100.127.255.255')).toBe(true);
    expect(contains('100.64.0.0/10', '100.128.0.0')).toBe(false);
    expect(contains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(contains('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(contains('::ffff:0:0/96', '192.0.2.1')).toBe(true);
    expect(contains('0.0.0.0/0', '2001:db8::1')).toBe(false);
    expect(contains('::/0', '2001:db8::1')).toBe(true);
    expect(contains('192.0.2.7', '192.0.2.7')).toBe(true);
    expect(contains('192.0.2.7', '192.0.2.8')).toBe(false);
    expect(contains('10.0.0.0/8', 'garbage')).toBe(false);
    // An IPv4 CIDR is not an IPv6 CIDR of the same bits.
    expect(contains('10.0.0.0/8', 'a00::1')).toBe(false);
  });

  it('finds the longest prefix in a table', () => {
    const table = new CidrTable(
      [
        '0.0.0.0/0',
        '100.64.0.0/10',
        '100.64.1.0/24',
        '100.64.1.7/32',
        '2001:db8::/32',
        '2001:db8:1::/48',
      ].map((text) => [parseCidr(text), text] as const),
    );
    expect(table.size).toBe(6);
    expect(table.lookup('100.64.1.7')?.value).toBe('100.64.1.7/32');
    expect(table.lookup('::ffff:100.64.1.7')?.value).toBe('100.64.1.7/32');
    expect(table.lookup('100.64.1.8')?.value).toBe('100.64.1.0/24');
    expect(table.lookup('100.65.0.1')?.value).toBe('100.64.0.0/10');
    expect(table.lookup('8.8.8.8')?.value).toBe('0.0.0.0/0');
    expect(table.lookup('2001:db8:1::5')?.value).toBe('2001:db8:1::/48');
    expect(table.lookup('2001:db8:2::5')?.value).toBe('2001:db8::/32');
    expect(table.lookup('2001:db9::5')).toBeUndefined();
    expect(table.lookup('nonsense')).toBeUndefined();
    expect(table.has('100.64.1.7')).toBe(true);
  });

  it('refuses duplicate CIDRs, however written', () => {
    expect(
      () =>
        new CidrTable([
          [parseCidr('10.0.0.0/8'), 1] as const,
          [parseCidr('::ffff:10.0.0.0/104'), 2] as const,
        ]),
    ).toThrow(/duplicate CIDR/);
  });

  it(
    'agrees with an independent linear scan on thousands of random entries',
    { timeout: 60_000 },
    () => {
      let seed = 12345;
      const next = (): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed;
      };
      const dotted = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
      // Reference: plain 32-bit arithmetic, sharing no code with the table.
      const reference = new Map<string, { network: number; length: number }>();
      while (reference.size < 3000) {
        const length = 8 + (next() % 25);
        const network = ((next() >>> (32 - length)) << (32 - length)) >>> 0;
        reference.set(`${dotted(network)}/${length}`, { network, length });
      }
      const table = new CidrTable(
        [...reference.keys()].map((text) => [parseCidr(text), text] as const),
      );
      expect(table.size).toBe(3000);
      let hits = 0;
      for (let i = 0; i < 2000; i += 1) {
        const ip = next();
        let best: string | undefined;
        let bestLength = -1;
        for (const [text, { network, length }] of reference) {
          const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
          if (length > bestLength && (ip & mask) >>> 0 === network) {
            best = text;
            bestLength = length;
          }
        }
        if (best !== undefined) hits += 1;
        expect(table.lookup(dotted(ip))?.value, dotted(ip)).toBe(best);
      }
      expect(hits).toBeGreaterThan(200);
    },
  );
});
