import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  PROXY_V2_SIGNATURE,
  ProxyHeaderParser,
  encodeProxyV1,
  encodeProxyV2,
  identityTextProblem,
  parseDatagramHeader,
  parseProxyHeader,
  type ProxyHeader,
  type ProxyParseResult,
} from '../../src/identity/index.js';

const V2 = encodeProxyV2({
  family: 'tcp6',
  sourceAddress: '2001:db8::42',
  sourcePort: 50123,
  destAddress: '2001:db8::1',
  destPort: 5432,
  clientId: 'laptop-ana',
  userId: 'ana@example.com',
  tlvs: [{ type: 0x04, value: Buffer.alloc(7) }],
  crc32c: true,
});
const V1 = encodeProxyV1({
  family: 'tcp4',
  sourceAddress: '203.0.113.9',
  sourcePort: 40000,
  destAddress: '10.0.0.5',
  destPort: 5432,
});
const PAYLOAD = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));

/**
 * Feed `chunks` in order, as a socket would; the first final result (or need-more).
 * On done, `rest` is extended with the chunks never fed: what the proxy forwards next.
 */
function feed(chunks: Buffer[]): ProxyParseResult {
  const parser = new ProxyHeaderParser();
  for (const [index, chunk] of chunks.entries()) {
    const result = parser.push(chunk);
    if (result.state === 'done') {
      return { ...result, rest: Buffer.concat([result.rest, ...chunks.slice(index + 1)]) };
    }
    if (result.state !== 'need-more') return result;
  }
  return { state: 'need-more' };
}

/** Deterministic PRNG (mulberry32), so a failing fuzz case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('incremental parsing', () => {
  for (const [name, header] of [
    ['v1', V1],
    ['v2', V2],
  ] as const) {
    it(`${name}: every strict prefix of the header is need-more, never a throw`, () => {
      for (let k = 0; k < header.length; k += 1) {
        const result = parseProxyHeader(header.subarray(0, k));
        expect(result.state, `prefix of ${k} bytes`).toBe('need-more');
      }
    });

    it(`${name}: split in two at every offset, the header and the rest come out exact`, () => {
      const stream = Buffer.concat([header, PAYLOAD]);
      for (let k = 1; k < stream.length; k += 1) {
        const result = feed([stream.subarray(0, k), stream.subarray(k)]);
        expect(result.state, `split at ${k}`).toBe('done');
        if (result.state !== 'done') continue;
        expect(result.rest.equals(PAYLOAD), `rest after split at ${k}`).toBe(true);
      }
    });

    it(`${name}: one byte at a time, answering done exactly at the last header byte`, () => {
      const parser = new ProxyHeaderParser();
      const stream = Buffer.concat([header, PAYLOAD]);
      let finished: ProxyParseResult | undefined;
      for (let i = 0; i < stream.length && !finished; i += 1) {
        const result = parser.push(stream.subarray(i, i + 1));
        if (result.state !== 'need-more') {
          expect(i).toBe(header.length - 1);
          finished = result;
        }
      }
      expect(finished?.state).toBe('done');
      if (finished?.state !== 'done') return;
      expect(finished.rest.length).toBe(0);
      expect(finished.header.sourcePort).toBe(name === 'v1' ? 40000 : 50123);
    });
  }

  it('v2 identity survives random chunking', () => {
    const random = rng(7);
    const stream = Buffer.concat([V2, PAYLOAD]);
    for (let round = 0; round < 200; round += 1) {
      const chunks: Buffer[] = [];
      let offset = 0;
      while (offset < stream.length) {
        const size = 1 + Math.floor(random() * 20);
        chunks.push(stream.subarray(offset, offset + size));
        offset += size;
      }
      const result = feed(chunks);
      expect(result.state).toBe('done');
      if (result.state !== 'done') return;
      expect(result.header.clientId).toBe('laptop-ana');
      expect(result.header.userId).toBe('ana@example.com');
      expect(result.rest.equals(PAYLOAD)).toBe(true);
    }
  });

  it('reports a missing header from the first byte that differs from both signatures', () => {
    const parser = new ProxyHeaderParser();
    expect(parser.push(Buffer.from('PRO')).state).toBe('need-more');
    const result = parser.push(Buffer.from('TOCOL'));
    expect(result.state).toBe('error');
    if (result.state !== 'error') return;
    expect(result.code).toBe('missing');
    expect(result.received.toString()).toBe('PROTOCOL');
    expect(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).state).toBe('error');
    const ssh = parseProxyHeader(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'));
    expect(ssh.state === 'error' && ssh.code).toBe('missing');
    // A v2 signature prefix followed by something else is no header either.
    const almost = parseProxyHeader(
      Buffer.concat([PROXY_V2_SIGNATURE.subarray(0, 11), Buffer.from([0x00])]),
    );
    expect(almost.state === 'error' && almost.code).toBe('missing');
  });

  it('ignores empty chunks and refuses use after a final answer', () => {
    const parser = new ProxyHeaderParser();
    expect(parser.push(Buffer.alloc(0)).state).toBe('need-more');
    expect(parser.push(V1).state).toBe('done');
    expect(() => parser.push(Buffer.from('x'))).toThrow(/already finished/);
  });

  it('bounds buffering: a never-ending v1 line fails at 107 bytes, an oversized v2 length at 16', () => {
    const v1 = new ProxyHeaderParser();
    let result: ProxyParseResult = v1.push(Buffer.from('PROXY '));
    for (let i = 0; result.state === 'need-more' && i < 1000; i += 1)
      result = v1.push(Buffer.from('1'));
    expect(result.state).toBe('error');
    expect(result.state === 'error' && result.received.length).toBe(107);

    const v2 = new ProxyHeaderParser();
    const fixed = Buffer.from(V2.subarray(0, 16));
    fixed.writeUInt16BE(60_000, 14);
    expect(v2.push(fixed.subarray(0, 15)).state).toBe('need-more');
    const big = v2.push(fixed.subarray(15));
    expect(big.state === 'error' && big.code).toBe('malformed');
  });
});

describe('datagram framing', () => {
  const header = encodeProxyV2({
    family: 'udp4',
    sourceAddress: '198.51.100.7',
    sourcePort: 5353,
    destAddress: '10.0.0.53',
    destPort: 53,
    clientId: 'branch-7',
  });

  it('splits a datagram into header and payload', () => {
    const payload = Buffer.from('dns query bytes');
    const result = parseDatagramHeader(Buffer.concat([header, payload]));
    expect('header' in result).toBe(true);
    if (!('header' in result)) return;
    expect(result.header).toMatchObject({
      family: 'udp4',
      sourceAddress: '198.51.100.7',
      sourcePort: 5353,
      clientId: 'branch-7',
    });
    expect(result.payload.equals(payload)).toBe(true);
    const empty = parseDatagramHeader(header);
    expect('payload' in empty && empty.payload.length).toBe(0);
  });

  it('reports a datagram without a header as missing', () => {
    const result = parseDatagramHeader(Buffer.from('plain payload'));
    expect(result).toEqual({ code: 'missing', error: 'no PROXY v2 signature' });
    expect('error' in parseDatagramHeader(Buffer.alloc(0))).toBe(true);
  });

  it('rejects v1, truncated headers and stream families on datagrams', () => {
    const v1 = parseDatagramHeader(Buffer.concat([V1, Buffer.from('x')]));
    expect('code' in v1 && v1.code).toBe('missing');
    for (let k = 12; k < header.length; k += 1) {
      const truncated = parseDatagramHeader(header.subarray(0, k));
      expect('code' in truncated && truncated.code, `truncated at ${k}`).toBe('malformed');
    }
    const tcp = parseDatagramHeader(V2);
    expect('error' in tcp && tcp.error).toMatch(/stream family on a datagram/);
  });

  it('accepts LOCAL and UNSPEC on datagrams', () => {
    const local = parseDatagramHeader(
      Buffer.concat([encodeProxyV2({ command: 'local' }), Buffer.from('hc')]),
    );
    expect('header' in local && local.header.command).toBe('local');
    expect('payload' in local && local.payload.toString()).toBe('hc');
    const unspec = parseDatagramHeader(encodeProxyV2({ family: 'unknown' }));
    expect('header' in unspec && unspec.header.family).toBe('unknown');
  });
});

/** What a `done` header must satisfy whatever bytes produced it. */
function assertSane(header: ProxyHeader, input: Buffer, rest: Buffer): void {
  expect([1, 2]).toContain(header.version);
  expect(['proxy', 'local']).toContain(header.command);
  expect(['tcp4', 'tcp6', 'udp4', 'udp6', 'unix', 'unknown']).toContain(header.family);
  const consumed = input.length - rest.length;
  expect(consumed).toBeGreaterThan(0);
  expect(input.subarray(consumed).equals(rest)).toBe(true);
  if (header.version === 1) expect(consumed).toBeLessThanOrEqual(107);
  else expect(consumed).toBeLessThanOrEqual(4096);
  if (['tcp4', 'udp4'].includes(header.family)) {
    expect(isIP(header.sourceAddress ?? '')).toBe(4);
    expect(isIP(header.destAddress ?? '')).toBe(4);
  }
  if (['tcp6', 'udp6'].includes(header.family)) {
    expect(isIP(header.sourceAddress ?? '')).toBe(6);
    expect(isIP(header.destAddress ?? '')).toBe(6);
  }
  for (const port of [header.sourcePort, header.destPort]) {
    if (port !== undefined) expect(port >= 0 && port <= 65535 && Number.isInteger(port)).toBe(true);
  }
  for (const id of [header.clientId, header.userId]) {
    if (id !== undefined) expect(identityTextProblem(id)).toBeUndefined();
  }
}

describe('fuzz', () => {
  it(
    '10,000 random or mutated buffers never throw and never yield an insane header',
    { timeout: 60_000 },
    () => {
      const random = rng(20240611);
      const seeds = [
        V1,
        V2,
        encodeProxyV2({ family: 'unix', sourceAddress: '/a', destAddress: '/b' }),
        encodeProxyV1({ family: 'unknown' }),
      ];
      const counts = { 'need-more': 0, done: 0, error: 0 };
      for (let i = 0; i < 10_000; i += 1) {
        let input: Buffer;
        const kind = i % 4;
        if (kind === 0) {
          input = Buffer.from(
            Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
          );
        } else if (kind === 1) {
          // A real signature, then noise: exercises the header parsers, not only detection.
          const prefix = random() < 0.5 ? Buffer.from('PROXY ') : PROXY_V2_SIGNATURE;
          const noise = Buffer.from(
            Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
          );
          input = Buffer.concat([prefix, noise]);
        } else {
          // A valid header with a few bytes flipped, cut or extended.
          const seed = seeds[Math.floor(random() * seeds.length)] ?? V2;
          input = Buffer.concat([seed, PAYLOAD.subarray(0, Math.floor(random() * 20))]);
          const flips = 1 + Math.floor(random() * 3);
          for (let f = 0; f < flips; f += 1) {
            const at = Math.floor(random() * input.length);
            input[at] = Math.floor(random() * 256);
          }
          if (kind === 3) input = input.subarray(0, Math.floor(random() * input.length));
        }
        let result: ProxyParseResult | undefined;
        expect(() => {
          result = parseProxyHeader(input);
        }, `case ${i}`).not.toThrow();
        if (!result) continue;
        counts[result.state] += 1;
        if (result.state === 'done') assertSane(result.header, input, result.rest);
        if (result.state === 'error') {
          expect(result.reason.length).toBeLessThan(120);
          expect(result.received.equals(input)).toBe(true);
        }
        expect(() => parseDatagramHeader(input)).not.toThrow();
      }
      // The corpus must reach every outcome, or the test proves little.
      expect(counts.done).toBeGreaterThan(100);
      expect(counts.error).toBeGreaterThan(1000);
      expect(counts['need-more']).toBeGreaterThan(100);
    },
  );
});
