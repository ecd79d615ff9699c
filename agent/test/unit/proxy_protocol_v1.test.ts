import { describe, expect, it } from 'vitest';
import {
  encodeProxyV1,
  parseProxyHeader,
  type ProxyParseResult,
} from '../../src/identity/index.js';

function parse(text: string): ProxyParseResult {
  return parseProxyHeader(Buffer.from(text, 'latin1'));
}

function expectMalformed(text: string, reason: RegExp): void {
  const result = parse(text);
  expect(result.state).toBe('error');
  if (result.state !== 'error') return;
  expect(result.code).toBe('malformed');
  expect(result.reason).toMatch(reason);
}

describe('PROXY protocol v1', () => {
  it('parses TCP4 and keeps the bytes after CRLF as stream data', () => {
    const result = parse('PROXY TCP4 192.0.2.10 198.51.100.5 56324 443\r\nGET / HTTP/1.1\r\n');
    expect(result.state).toBe('done');
    if (result.state !== 'done') return;
    expect(result.header).toEqual({
      version: 1,
      command: 'proxy',
      family: 'tcp4',
      sourceAddress: '192.0.2.10',
      sourcePort: 56324,
      destAddress: '198.51.100.5',
      destPort: 443,
      tlvs: [],
    });
    expect(result.rest.toString('latin1')).toBe('GET / HTTP/1.1\r\n');
  });

  it('parses TCP6 and writes addresses canonically', () => {
    const result = parse('PROXY TCP6 2001:DB8:0:0::1 ::ffff:192.0.2.1 65535 0\r\n');
    expect(result.state).toBe('done');
    if (result.state !== 'done') return;
    expect(result.header.family).toBe('tcp6');
    expect(result.header.sourceAddress).toBe('2001:db8::1');
    expect(result.header.destAddress).toBe('::ffff:192.0.2.1');
    expect(result.header.sourcePort).toBe(65535);
    expect(result.header.destPort).toBe(0);
    expect(result.rest.length).toBe(0);
  });

  it('parses UNKNOWN with and without trailing fields', () => {
    for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n']) {
      const result = parse(`${line}xyz`);
      expect(result.state).toBe('done');
      if (result.state !== 'done') continue;
      expect(result.header).toEqual({ version: 1, command: 'proxy', family: 'unknown', tlvs: [] });
      expect(result.rest.toString()).toBe('xyz');
    }
  });

  it('accepts the longest legal line (107 bytes) and rejects one byte more', () => {
    const base = 'PROXY UNKNOWN ';
    const exact = `${base}${'x'.repeat(107 - base.length - 2)}\r\n`;
    expect(exact.length).toBe(107);
    expect(parse(exact).state).toBe('done');
    const longer = `${base}${'x'.repeat(107 - base.length - 1)}\r\n`;
    expectMalformed(longer, /no CRLF within 107 bytes/);
  });

  it('rejects a line without CRLF once 107 bytes arrived, without waiting for more', () => {
    expectMalformed(`PROXY UNKNOWN ${'x'.repeat(93)}`, /no CRLF within 107 bytes/);
    expect(parse(`PROXY UNKNOWN ${'x'.repeat(92)}`).state).toBe('need-more');
  });

  it.each([
    [
      'bad source address',
      'PROXY TCP4 192.0.2.300 198.51.100.5 1 2\r\n',
      /source address is not IPv4/,
    ],
    ['leading zero in an octet', 'PROXY TCP4 192.0.2.01 198.51.100.5 1 2\r\n', /source address/],
    ['IPv6 address in TCP4', 'PROXY TCP4 ::1 198.51.100.5 1 2\r\n', /source address is not IPv4/],
    [
      'IPv4 address in TCP6',
      'PROXY TCP6 ::1 198.51.100.5 1 2\r\n',
      /destination address is not IPv6/,
    ],
    ['zone id', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', /source address is not IPv6/],
    ['port 70000', 'PROXY TCP4 192.0.2.1 198.51.100.5 70000 443\r\n', /source port/],
    ['port 65536', 'PROXY TCP4 192.0.2.1 198.51.100.5 1 65536\r\n', /destination port/],
    ['leading zero in a port', 'PROXY TCP4 192.0.2.1 198.51.100.5 080 443\r\n', /source port/],
    ['negative port', 'PROXY TCP4 192.0.2.1 198.51.100.5 -1 443\r\n', /source port/],
    ['double space', 'PROXY TCP4 192.0.2.1  198.51.100.5 1 2\r\n', /single-spaced/],
    ['missing field', 'PROXY TCP4 192.0.2.1 198.51.100.5 1\r\n', /single-spaced/],
    ['trailing space', 'PROXY TCP4 192.0.2.1 198.51.100.5 1 2 \r\n', /single-spaced/],
    ['unknown protocol', 'PROXY UDP4 192.0.2.1 198.51.100.5 1 2\r\n', /protocol must be/],
    ['lowercase protocol', 'PROXY tcp4 192.0.2.1 198.51.100.5 1 2\r\n', /protocol must be/],
    ['LF without CR', 'PROXY TCP4 192.0.2.1 198.51.100.5 1 2\n', /LF without CR/],
    ['CR without LF', 'PROXY TCP4 192.0.2.1 198.51.100.5 1 2\rX', /CR without LF/],
    ['tab', 'PROXY TCP4\t192.0.2.1 198.51.100.5 1 2\r\n', /non-printable/],
    ['NUL byte', 'PROXY TCP4 192.0.2.1\u0000', /non-printable/],
    ['non-ASCII byte', 'PROXY TCP4 192.0.2.\u00e9', /non-printable/],
  ])('rejects %s', (_name, line, reason) => {
    expectMalformed(line, reason);
  });

  it('treats a lowercase "proxy" as no header at all (missing, not malformed)', () => {
    const result = parse('proxy TCP4 192.0.2.1 198.51.100.5 1 2\r\n');
    expect(result.state).toBe('error');
    if (result.state !== 'error') return;
    expect(result.code).toBe('missing');
    // Every byte is handed back: in optional mode it is stream data.
    expect(result.received.toString('latin1')).toBe('proxy TCP4 192.0.2.1 198.51.100.5 1 2\r\n');
  });

  it('round-trips through the encoder', () => {
    const encoded = encodeProxyV1({
      family: 'tcp6',
      sourceAddress: '2001:db8::7',
      sourcePort: 40000,
      destAddress: '2001:db8::8',
      destPort: 5432,
    });
    expect(encoded.toString('latin1')).toBe('PROXY TCP6 2001:db8::7 2001:db8::8 40000 5432\r\n');
    const result = parseProxyHeader(encoded);
    expect(result.state === 'done' && result.header.sourceAddress).toBe('2001:db8::7');
    expect(encodeProxyV1({ family: 'unknown' }).toString()).toBe('PROXY UNKNOWN\r\n');
  });

  it('refuses to encode bad fields, naming them', () => {
    expect(() =>
      encodeProxyV1({
        family: 'tcp4',
        sourceAddress: '::1',
        sourcePort: 1,
        destAddress: '192.0.2.1',
        destPort: 2,
      }),
    ).toThrow(/sourceAddress: expected an IPv4 address/);
    expect(() =>
      encodeProxyV1({
        family: 'tcp4',
        sourceAddress: '192.0.2.1',
        sourcePort: 70000,
        destAddress: '192.0.2.1',
        destPort: 2,
      }),
    ).toThrow(/sourcePort/);
  });
});
