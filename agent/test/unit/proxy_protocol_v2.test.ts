import { describe, expect, it } from 'vitest';
import {
  PP2_TYPE,
  PROXY_V2_SIGNATURE,
  crc32c,
  encodeProxyV2,
  parseProxyHeader,
  resolveParserOptions,
  type ProxyParseResult,
} from '../../src/identity/index.js';

function done(result: ProxyParseResult): Extract<ProxyParseResult, { state: 'done' }> {
  if (result.state !== 'done') throw new Error(`expected done, got ${JSON.stringify(result)}`);
  return result;
}

function malformed(result: ProxyParseResult): string {
  if (result.state !== 'error' || result.code !== 'malformed') {
    throw new Error(`expected malformed, got ${result.state}`);
  }
  return result.reason;
}

/** A v2 header built by hand (no encoder), so encoder and parser are checked independently. */
function rawV2(verCmd: number, famProto: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(16);
  PROXY_V2_SIGNATURE.copy(fixed);
  fixed[12] = verCmd;
  fixed[13] = famProto;
  fixed.writeUInt16BE(body.length, 14);
  return Buffer.concat([fixed, body]);
}

function tlv(type: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const head = Buffer.from([type, 0, 0]);
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

const INET_BLOCK = Buffer.from([192, 0, 2, 10, 198, 51, 100, 5, 0xdc, 0x04, 0x01, 0xbb]);

describe('CRC32c', () => {
  it('matches the standard check value and the RFC 3720 vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });
});

describe('PROXY protocol v2', () => {
  it('parses a hand-built TCP4 header with identity TLVs', () => {
    const header = rawV2(
      0x21,
      0x11,
      Buffer.concat([
        INET_BLOCK,
        tlv(0xe1, 'laptop-ana'),
        tlv(0xe2, 'ana@example.com'),
        tlv(0x02, 'db.internal'),
      ]),
    );
    const result = done(parseProxyHeader(Buffer.concat([header, Buffer.from('payload')])));
    expect(result.header).toMatchObject({
      version: 2,
      command: 'proxy',
      family: 'tcp4',
      sourceAddress: '192.0.2.10',
      sourcePort: 56324,
      destAddress: '198.51.100.5',
      destPort: 443,
      clientId: 'laptop-ana',
      userId: 'ana@example.com',
    });
    expect(result.header.tlvs.map((t) => [t.type, t.value.toString()])).toEqual([
      [0xe1, 'laptop-ana'],
      [0xe2, 'ana@example.com'],
      [0x02, 'db.internal'],
    ]);
    expect(result.rest.toString()).toBe('payload');
  });

  it('parses TCP6, UDP4, UDP6 and UNIX address blocks', () => {
    const tcp6 = done(
      parseProxyHeader(
        encodeProxyV2({
          family: 'tcp6',
          sourceAddress: '2001:db8::1',
          sourcePort: 1,
          destAddress: '::ffff:10.0.0.1',
          destPort: 2,
        }),
      ),
    );
    expect(tcp6.header).toMatchObject({
      family: 'tcp6',
      sourceAddress: '2001:db8::1',
      destAddress: '::ffff:10.0.0.1',
    });
    const udp4 = done(
      parseProxyHeader(
        encodeProxyV2({
          family: 'udp4',
          sourceAddress: '10.1.2.3',
          sourcePort: 53,
          destAddress: '10.0.0.53',
          destPort: 53,
        }),
      ),
    );
    expect(udp4.header).toMatchObject({ family: 'udp4', sourceAddress: '10.1.2.3', destPort: 53 });
    const udp6 = done(
      parseProxyHeader(
        encodeProxyV2({
          family: 'udp6',
          sourceAddress: 'fd00::5',
          sourcePort: 9,
          destAddress: 'fd00::6',
          destPort: 10,
        }),
      ),
    );
    expect(udp6.header).toMatchObject({ family: 'udp6', sourceAddress: 'fd00::5', sourcePort: 9 });
    const unix = done(
      parseProxyHeader(
        encodeProxyV2({
          family: 'unix',
          sourceAddress: '/run/client.sock',
          destAddress: '/run/agent.sock',
        }),
      ),
    );
    expect(unix.header).toMatchObject({
      family: 'unix',
      sourceAddress: '/run/client.sock',
      destAddress: '/run/agent.sock',
    });
    expect(unix.header.sourcePort).toBeUndefined();
  });

  it('accepts a correct CRC32C and rejects a wrong one', () => {
    const good = encodeProxyV2({
      family: 'tcp4',
      sourceAddress: '192.0.2.10',
      sourcePort: 1000,
      destAddress: '198.51.100.5',
      destPort: 22,
      clientId: 'c1',
      crc32c: true,
    });
    const parsed = done(parseProxyHeader(good));
    expect(parsed.header.clientId).toBe('c1');
    expect(parsed.header.tlvs.some((t) => t.type === PP2_TYPE.CRC32C)).toBe(true);

    // Verify the checksum independently: CRC over the header with the value zeroed.
    const zeroed = Buffer.from(good);
    zeroed.fill(0, good.length - 4);
    expect(good.readUInt32BE(good.length - 4)).toBe(crc32c(zeroed));

    const wrongValue = Buffer.from(good);
    wrongValue[wrongValue.length - 1] = (wrongValue[wrongValue.length - 1] ?? 0) ^ 0x01;
    expect(malformed(parseProxyHeader(wrongValue))).toMatch(/CRC32C mismatch/);

    const wrongData = Buffer.from(good);
    wrongData[16] = 193; // source address byte changed after the CRC was computed
    expect(malformed(parseProxyHeader(wrongData))).toMatch(/CRC32C mismatch/);

    const shortCrc = rawV2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(PP2_TYPE.CRC32C, Buffer.alloc(3))]),
    );
    expect(malformed(parseProxyHeader(shortCrc))).toMatch(/CRC32C TLV must be 4 bytes/);
  });

  it('skips NOOP TLVs and walks the SSL TLV without interpreting it', () => {
    const ssl = Buffer.concat([
      Buffer.from([0x07, 0, 0, 0, 0]),
      tlv(PP2_TYPE.SSL_VERSION, 'TLSv1.3'),
      tlv(PP2_TYPE.SSL_CN, 'ana'),
    ]);
    const header = rawV2(
      0x21,
      0x11,
      Buffer.concat([
        INET_BLOCK,
        tlv(PP2_TYPE.NOOP, Buffer.alloc(5)),
        tlv(PP2_TYPE.SSL, ssl),
        tlv(0xe1, 'x'),
      ]),
    );
    const result = done(parseProxyHeader(header));
    expect(result.header.tlvs.map((t) => t.type)).toEqual([PP2_TYPE.SSL, 0xe1]);
    expect(result.header.clientId).toBe('x');

    const badSsl = rawV2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(PP2_TYPE.SSL, Buffer.from([1, 0, 0, 0, 0, 0x21, 0, 9, 65]))]),
    );
    expect(malformed(parseProxyHeader(badSsl))).toMatch(/SSL sub-TLV overruns/);
    const shortSsl = rawV2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(PP2_TYPE.SSL, Buffer.from([1, 0]))]),
    );
    expect(malformed(parseProxyHeader(shortSsl))).toMatch(/SSL TLV shorter than 5 bytes/);
  });

  it('parses LOCAL as the sender’s own connection: no addresses, no identity', () => {
    const local = rawV2(0x20, 0x11, Buffer.concat([INET_BLOCK, tlv(0xe1, 'ignored')]));
    const result = done(parseProxyHeader(Buffer.concat([local, Buffer.from([1, 2, 3])])));
    expect(result.header).toEqual({ version: 2, command: 'local', family: 'unknown', tlvs: [] });
    expect([...result.rest]).toEqual([1, 2, 3]);
    // The family of a LOCAL header is discarded, even an invalid one.
    expect(done(parseProxyHeader(rawV2(0x20, 0xff, Buffer.alloc(0)))).header.command).toBe('local');
    expect(done(parseProxyHeader(encodeProxyV2({ command: 'local' }))).header.command).toBe(
      'local',
    );
  });

  it('parses PROXY with UNSPEC family as "unknown" and ignores its block', () => {
    const result = done(parseProxyHeader(rawV2(0x21, 0x00, Buffer.from('anything at all'))));
    expect(result.header).toEqual({ version: 2, command: 'proxy', family: 'unknown', tlvs: [] });
  });

  it('takes PP2_TYPE_UNIQUE_ID as client id only when configured, and never over the client id TLV', () => {
    const withUnique = rawV2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(PP2_TYPE.UNIQUE_ID, 'req-42')]),
    );
    expect(done(parseProxyHeader(withUnique)).header.clientId).toBeUndefined();
    expect(done(parseProxyHeader(withUnique, { uniqueIdAsClientId: true })).header.clientId).toBe(
      'req-42',
    );
    const both = rawV2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(PP2_TYPE.UNIQUE_ID, 'req-42'), tlv(0xe1, 'real')]),
    );
    expect(done(parseProxyHeader(both, { uniqueIdAsClientId: true })).header.clientId).toBe('real');
  });

  it('uses configured identity TLV numbers', () => {
    const header = rawV2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(0xe5, 'cli'), tlv(0xe6, 'usr'), tlv(0xe1, 'not-me')]),
    );
    const result = done(parseProxyHeader(header, { clientIdTlv: 0xe5, userIdTlv: 0xe6 }));
    expect(result.header.clientId).toBe('cli');
    expect(result.header.userId).toBe('usr');
  });

  it('treats an empty identity TLV as absent', () => {
    const header = rawV2(0x21, 0x11, Buffer.concat([INET_BLOCK, tlv(0xe1, ''), tlv(0xe2, 'u')]));
    const result = done(parseProxyHeader(header));
    expect(result.header.clientId).toBeUndefined();
    expect(result.header.userId).toBe('u');
  });

  it.each([
    [
      'a control character',
      tlv(0xe1, 'ana\nadmin'),
      /clientId TLV 0xe1 contains a control character/,
    ],
    [
      'a C1 control character',
      tlv(0xe2, 'ana\u0085'),
      /userId TLV 0xe2 contains a control character/,
    ],
    ['invalid UTF-8', tlv(0xe1, Buffer.from([0x61, 0xff, 0x62])), /not valid UTF-8/],
    ['more than 256 bytes', tlv(0xe1, 'é'.repeat(129)), /longer than 256 bytes/],
    ['a duplicate', Buffer.concat([tlv(0xe1, 'a'), tlv(0xe1, 'b')]), /more than one clientId TLV/],
    [
      'two CRC32C TLVs',
      Buffer.concat([tlv(3, Buffer.alloc(4)), tlv(3, Buffer.alloc(4))]),
      /more than one CRC32C/,
    ],
    ['a TLV overrunning the header', Buffer.from([0xe1, 0x00, 0x09, 0x61]), /overruns the header/],
    ['a truncated TLV head', Buffer.from([0xe1, 0x00]), /truncated TLV/],
  ])('rejects TLVs with %s', (_name, tlvs, reason) => {
    expect(
      malformed(parseProxyHeader(rawV2(0x21, 0x11, Buffer.concat([INET_BLOCK, tlvs])))),
    ).toMatch(reason);
  });

  it('accepts an identity of exactly 256 bytes', () => {
    const id = 'é'.repeat(128);
    expect(Buffer.byteLength(id)).toBe(256);
    expect(
      done(parseProxyHeader(rawV2(0x21, 0x11, Buffer.concat([INET_BLOCK, tlv(0xe1, id)])))).header
        .clientId,
    ).toBe(id);
  });

  it.each([
    ['version 1 in the binary header', rawV2(0x11, 0x11, INET_BLOCK), /version must be 2/],
    ['an unknown command', rawV2(0x22, 0x11, INET_BLOCK), /command must be LOCAL or PROXY/],
    ['an unknown family', rawV2(0x21, 0x41, INET_BLOCK), /unsupported family\/transport 0x41/],
    [
      'INET with UNSPEC transport',
      rawV2(0x21, 0x10, INET_BLOCK),
      /unsupported family\/transport 0x10/,
    ],
    [
      'an address block too short for INET',
      rawV2(0x21, 0x11, INET_BLOCK.subarray(0, 11)),
      /shorter than 12 bytes/,
    ],
    [
      'an address block too short for INET6',
      rawV2(0x21, 0x21, Buffer.alloc(35)),
      /shorter than 36 bytes/,
    ],
    [
      'an address block too short for UNIX',
      rawV2(0x21, 0x31, Buffer.alloc(215)),
      /shorter than 216 bytes/,
    ],
  ])('rejects %s', (_name, header, reason) => {
    expect(malformed(parseProxyHeader(header))).toMatch(reason);
  });

  it('rejects a header larger than the cap from its first 16 bytes, before the body arrives', () => {
    const fixed = rawV2(0x21, 0x11, Buffer.alloc(0));
    fixed.writeUInt16BE(4096 - 16 + 1, 14);
    expect(malformed(parseProxyHeader(fixed))).toMatch(/header of 4097 bytes exceeds 4096/);
    // At the specification's own maximum the parser waits for the body instead.
    fixed.writeUInt16BE(0xffff, 14);
    expect(parseProxyHeader(fixed, { maxHeaderBytes: 65551 }).state).toBe('need-more');
  });

  it('honours a raised cap and the exact limit', () => {
    const pad = tlv(PP2_TYPE.NOOP, Buffer.alloc(4096 - 16 - 12 - 3));
    const atLimit = rawV2(0x21, 0x11, Buffer.concat([INET_BLOCK, pad]));
    expect(atLimit.length).toBe(4096);
    expect(parseProxyHeader(atLimit).state).toBe('done');
    const big = rawV2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(PP2_TYPE.NOOP, Buffer.alloc(10_000))]),
    );
    expect(parseProxyHeader(big).state).toBe('error');
    expect(parseProxyHeader(big, { maxHeaderBytes: 20_000 }).state).toBe('done');
  });

  it('checks parser options, naming the key', () => {
    expect(() => resolveParserOptions({ maxHeaderBytes: 100 })).toThrow(
      /proxyProtocol.maxHeaderBytes: expected an integer 232..65551/,
    );
    expect(() => resolveParserOptions({ clientIdTlv: 0x03 })).toThrow(
      /proxyProtocol.clientIdTlv: TLV type 0x3 is reserved/,
    );
    expect(() => resolveParserOptions({ userIdTlv: 256 })).toThrow(
      /proxyProtocol.userIdTlv: expected a TLV type 1..255/,
    );
    expect(() => resolveParserOptions({ clientIdTlv: 0xe2 })).toThrow(
      /userIdTlv: must differ from clientIdTlv/,
    );
    expect(resolveParserOptions()).toEqual({
      maxHeaderBytes: 4096,
      clientIdTlv: 0xe1,
      userIdTlv: 0xe2,
      uniqueIdAsClientId: false,
    });
  });

  it('encoder round-trips extra TLVs and refuses bad identities', () => {
    const encoded = encodeProxyV2({
      family: 'tcp4',
      sourceAddress: '10.0.0.1',
      sourcePort: 1,
      destAddress: '10.0.0.2',
      destPort: 2,
      userId: 'bob',
      tlvs: [{ type: PP2_TYPE.AUTHORITY, value: 'example.com' }],
    });
    const result = done(parseProxyHeader(encoded));
    expect(result.header.userId).toBe('bob');
    expect(result.header.tlvs.map((t) => t.type)).toEqual([0xe2, PP2_TYPE.AUTHORITY]);
    expect(() =>
      encodeProxyV2({
        family: 'tcp4',
        sourceAddress: '::1',
        sourcePort: 1,
        destAddress: '10.0.0.2',
        destPort: 2,
      }),
    ).toThrow(/sourceAddress: expected an IPv4 address for tcp4/);
    expect(() => encodeProxyV2({ clientId: 'a\u0007' })).toThrow(
      /clientId: contains a control character/,
    );
  });
});
