import { describe, expect, it } from 'vitest';
import {
  PROXY_REJECT_REASONS,
  ProxyProtocolGate,
  decideProxyDatagram,
  decideProxyProtocol,
  encodeProxyV1,
  encodeProxyV2,
  isTrustedSource,
  parseCidr,
  resolveProxyProtocolPolicy,
  type ProxyDecision,
} from '../../src/identity/index.js';

const TRUSTED = '10.9.0.2';
const UNTRUSTED = '192.0.2.50';
const required = resolveProxyProtocolPolicy({
  mode: 'required',
  trustedCidrs: ['10.9.0.0/24', 'fd00:9::/64'],
});
const optional = resolveProxyProtocolPolicy({ mode: 'optional', trustedCidrs: ['10.9.0.0/24'] });
const off = resolveProxyProtocolPolicy({ mode: 'off' });
const HEADER = encodeProxyV2({
  family: 'tcp4',
  sourceAddress: '100.64.1.7',
  sourcePort: 41000,
  destAddress: '10.0.0.5',
  destPort: 5432,
  clientId: 'laptop-ana',
});
const DATA = Buffer.from('client hello');

function reason(decision: ProxyDecision): string | undefined {
  return decision.action === 'reject' ? decision.reason : undefined;
}

describe('policy', () => {
  it('applies defaults', () => {
    const policy = resolveProxyProtocolPolicy();
    expect(policy.mode).toBe('off');
    expect(policy.headerTimeoutMs).toBe(3000);
    expect(policy.clientIdTlv).toBe(0xe1);
    expect(policy.userIdTlv).toBe(0xe2);
    expect(policy.maxHeaderBytes).toBe(4096);
  });

  it('fails naming the key', () => {
    expect(() =>
      resolveProxyProtocolPolicy({ mode: 'required' }, 'resources[1].proxyProtocol'),
    ).toThrow(
      'resources[1].proxyProtocol.trustedCidrs: must list at least one IP or CIDR when mode is required',
    );
    expect(() =>
      resolveProxyProtocolPolicy({ mode: 'optional', trustedCidrs: ['10.0.0.0/8', '10.0.0.300'] }),
    ).toThrow(/proxyProtocol.trustedCidrs\[1\]: invalid CIDR "10.0.0.300"/);
    expect(() => resolveProxyProtocolPolicy({ mode: 'sometimes' as 'off' })).toThrow(
      /proxyProtocol.mode: expected one of off, optional, required/,
    );
    expect(() => resolveProxyProtocolPolicy({ mode: 'off', headerTimeoutMs: 0 })).toThrow(
      /proxyProtocol.headerTimeout: expected 1..60000 ms/,
    );
    expect(() => resolveProxyProtocolPolicy({ mode: 'off', clientIdTlv: 4 })).toThrow(
      /proxyProtocol.clientIdTlv/,
    );
  });

  it('tolerates a CIDR listed twice', () => {
    const policy = resolveProxyProtocolPolicy({
      mode: 'required',
      trustedCidrs: ['10.0.0.0/8', '10.0.0.0/8'],
    });
    expect(policy.trustedCidrs.map((c) => c.text)).toEqual(['10.0.0.0/8']);
  });

  it('isTrustedSource handles lists, tables, mapped and zoned addresses', () => {
    expect(isTrustedSource('10.9.0.7', ['10.9.0.0/24'])).toBe(true);
    expect(isTrustedSource('::ffff:10.9.0.7', ['10.9.0.0/24'])).toBe(true);
    expect(isTrustedSource('10.9.1.7', ['10.9.0.0/24'])).toBe(false);
    expect(isTrustedSource('fd00:9::1%eth0', required.trusted)).toBe(true);
    expect(isTrustedSource('fd00:a::1', required.trusted)).toBe(false);
    expect(isTrustedSource(undefined, ['0.0.0.0/0'])).toBe(false);
    expect(isTrustedSource('not an ip', ['0.0.0.0/0'])).toBe(false);
    expect(isTrustedSource('10.9.0.7', [parseCidr('10.9.0.7')])).toBe(true);
  });
});

describe('stream gate', () => {
  it('required + trusted: a header is accepted, the bytes after it are stream data', () => {
    const gate = new ProxyProtocolGate(required, TRUSTED);
    expect(gate.start().action).toBe('wait');
    expect(gate.push(HEADER.subarray(0, 10)).action).toBe('wait');
    const decision = gate.push(Buffer.concat([HEADER.subarray(10), DATA]));
    expect(decision.action).toBe('accept');
    if (decision.action !== 'accept') return;
    expect(decision.header?.clientId).toBe('laptop-ana');
    expect(decision.header?.sourceAddress).toBe('100.64.1.7');
    expect(decision.rest.equals(DATA)).toBe(true);
    expect(() => gate.push(DATA)).toThrow(/already made/);
  });

  it('required + trusted: v1 works on the same listener', () => {
    const v1 = encodeProxyV1({
      family: 'tcp4',
      sourceAddress: '100.64.1.7',
      sourcePort: 1,
      destAddress: '10.0.0.5',
      destPort: 2,
    });
    const decision = decideProxyProtocol(required, TRUSTED, Buffer.concat([v1, DATA]));
    expect(decision.action === 'accept' && decision.header?.version).toBe(1);
  });

  it('required + untrusted: rejected at accept, before any byte', () => {
    const gate = new ProxyProtocolGate(required, UNTRUSTED);
    expect(gate.trusted).toBe(false);
    const decision = gate.start();
    expect(reason(decision)).toBe('proxy_header_untrusted');
    expect(decision.action === 'reject' && decision.detail).toBe('source is not in trustedCidrs');
  });

  it('required + untrusted: refused even when the caller skips start()', () => {
    expect(reason(new ProxyProtocolGate(required, UNTRUSTED).push(DATA))).toBe(
      'proxy_header_untrusted',
    );
    expect(reason(new ProxyProtocolGate(required, UNTRUSTED).timeout())).toBe(
      'proxy_header_untrusted',
    );
    expect(reason(new ProxyProtocolGate(required, UNTRUSTED).end())).toBe('proxy_header_untrusted');
    expect(reason(new ProxyProtocolGate(required, undefined).push(HEADER))).toBe(
      'proxy_header_untrusted',
    );
  });

  it('required + trusted: no header, a bad header, a timeout and an early close are rejected', () => {
    expect(reason(decideProxyProtocol(required, TRUSTED, DATA))).toBe('proxy_header_missing');
    const broken = Buffer.from(HEADER);
    broken[12] = 0x31;
    expect(reason(decideProxyProtocol(required, TRUSTED, broken))).toBe('proxy_header_malformed');
    expect(
      reason(decideProxyProtocol(required, TRUSTED, HEADER.subarray(0, 20), { timedOut: true })),
    ).toBe('proxy_header_timeout');
    expect(
      reason(decideProxyProtocol(required, TRUSTED, Buffer.alloc(0), { timedOut: true })),
    ).toBe('proxy_header_timeout');
    expect(reason(decideProxyProtocol(required, TRUSTED, Buffer.alloc(0), { ended: true }))).toBe(
      'proxy_header_missing',
    );
    expect(
      reason(decideProxyProtocol(required, TRUSTED, HEADER.subarray(0, 20), { ended: true })),
    ).toBe('proxy_header_malformed');
  });

  it('required: the socket may report a trusted IPv4 peer in mapped form', () => {
    expect(decideProxyProtocol(required, `::ffff:${TRUSTED}`, HEADER).action).toBe('accept');
  });

  it('optional + trusted: header used, no header fine, malformed rejected', () => {
    const withHeader = decideProxyProtocol(optional, TRUSTED, Buffer.concat([HEADER, DATA]));
    expect(withHeader.action === 'accept' && withHeader.header?.clientId).toBe('laptop-ana');
    const without = decideProxyProtocol(optional, TRUSTED, DATA);
    expect(without.action).toBe('accept');
    if (without.action !== 'accept') return;
    expect(without.header).toBeUndefined();
    expect(without.rest.equals(DATA)).toBe(true);
    const broken = Buffer.concat([Buffer.from('PROXY TCP4 1.2.3.4 nonsense\r\n'), DATA]);
    expect(reason(decideProxyProtocol(optional, TRUSTED, broken))).toBe('proxy_header_malformed');
  });

  it('optional: a server-speaks-first client that sends nothing goes on at the timeout', () => {
    const gate = new ProxyProtocolGate(optional, TRUSTED);
    expect(gate.start().action).toBe('wait');
    const decision = gate.timeout();
    expect(decision.action === 'accept' && decision.rest.length).toBe(0);
    expect(decision.action === 'accept' && decision.header).toBeUndefined();
  });

  it('optional: bytes that are only a prefix of a signature are forwarded at the timeout', () => {
    const gate = new ProxyProtocolGate(optional, TRUSTED);
    gate.start();
    expect(gate.push(Buffer.from('PRO')).action).toBe('wait');
    const decision = gate.timeout();
    expect(decision.action === 'accept' && decision.rest.toString()).toBe('PRO');
    const ended = decideProxyProtocol(optional, TRUSTED, Buffer.from('\r\n'), { ended: true });
    expect(ended.action === 'accept' && ended.rest.toString()).toBe('\r\n');
  });

  it('optional: a header that started but stalls is rejected, never forwarded', () => {
    expect(
      reason(
        decideProxyProtocol(optional, TRUSTED, Buffer.from('PROXY TCP4 1.2'), { timedOut: true }),
      ),
    ).toBe('proxy_header_timeout');
    expect(
      reason(decideProxyProtocol(optional, TRUSTED, HEADER.subarray(0, 30), { ended: true })),
    ).toBe('proxy_header_malformed');
  });

  it('optional + untrusted: a header is rejected as soon as its signature is complete', () => {
    const gate = new ProxyProtocolGate(optional, UNTRUSTED);
    expect(gate.start().action).toBe('wait');
    expect(gate.push(HEADER.subarray(0, 11)).action).toBe('wait');
    const decision = gate.push(HEADER.subarray(11, 12));
    expect(reason(decision)).toBe('proxy_header_untrusted');
    expect(reason(decideProxyProtocol(optional, UNTRUSTED, Buffer.from('PROXY ')))).toBe(
      'proxy_header_untrusted',
    );
  });

  it('optional + untrusted: ordinary traffic passes with every byte, split or not', () => {
    const gate = new ProxyProtocolGate(optional, UNTRUSTED);
    gate.start();
    expect(gate.push(Buffer.from('PR')).action).toBe('wait');
    const decision = gate.push(Buffer.from('INT hello'));
    expect(decision.action === 'accept' && decision.rest.toString()).toBe('PRINT hello');
    expect(decision.action === 'accept' && decision.header).toBeUndefined();
    const timedOut = decideProxyProtocol(optional, UNTRUSTED, Buffer.alloc(0), { timedOut: true });
    expect(timedOut.action).toBe('accept');
  });

  it('off: bytes pass untouched even when they look like a header', () => {
    const gate = new ProxyProtocolGate(off, UNTRUSTED);
    const decision = gate.start();
    expect(decision).toEqual({ action: 'accept', header: undefined, rest: Buffer.alloc(0) });
    const direct = decideProxyProtocol(off, UNTRUSTED, HEADER);
    expect(direct.action === 'accept' && direct.header).toBeUndefined();
    expect(direct.action === 'accept' && direct.rest.equals(HEADER)).toBe(true);
  });

  it('every reject reason is in the published closed set', () => {
    expect(PROXY_REJECT_REASONS).toEqual([
      'proxy_header_untrusted',
      'proxy_header_malformed',
      'proxy_header_missing',
      'proxy_header_timeout',
    ]);
  });
});

describe('datagram gate', () => {
  const udpHeader = encodeProxyV2({
    family: 'udp4',
    sourceAddress: '100.64.1.7',
    sourcePort: 5353,
    destAddress: '10.0.0.53',
    destPort: 53,
    userId: 'ana',
  });
  const payload = Buffer.from('query');
  const datagram = Buffer.concat([udpHeader, payload]);

  it('required + trusted: header parsed per datagram', () => {
    const decision = decideProxyDatagram(required, TRUSTED, datagram);
    expect(decision.action).toBe('accept');
    if (decision.action !== 'accept') return;
    expect(decision.header?.userId).toBe('ana');
    expect(decision.payload.equals(payload)).toBe(true);
  });

  it('required: untrusted, missing and malformed datagrams are rejected', () => {
    expect(reason(decideProxyDatagram(required, UNTRUSTED, datagram) as ProxyDecision)).toBe(
      'proxy_header_untrusted',
    );
    expect(reason(decideProxyDatagram(required, TRUSTED, payload) as ProxyDecision)).toBe(
      'proxy_header_missing',
    );
    expect(
      reason(decideProxyDatagram(required, TRUSTED, udpHeader.subarray(0, 20)) as ProxyDecision),
    ).toBe('proxy_header_malformed');
  });

  it('optional: untrusted header rejected, untrusted plain datagram passes, trusted plain passes', () => {
    expect(reason(decideProxyDatagram(optional, UNTRUSTED, datagram) as ProxyDecision)).toBe(
      'proxy_header_untrusted',
    );
    const plain = decideProxyDatagram(optional, UNTRUSTED, payload);
    expect(plain.action === 'accept' && plain.payload.equals(payload)).toBe(true);
    const trustedPlain = decideProxyDatagram(optional, TRUSTED, payload);
    expect(trustedPlain.action === 'accept' && trustedPlain.header).toBeUndefined();
  });

  it('off: the datagram is the payload', () => {
    const decision = decideProxyDatagram(off, UNTRUSTED, datagram);
    expect(decision.action === 'accept' && decision.payload).toBe(datagram);
  });
});
