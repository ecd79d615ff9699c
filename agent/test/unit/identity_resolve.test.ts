import { Registry } from '@connlog/metrics';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  IdentityError,
  IdentityTelemetry,
  encodeProxyV2,
  parsePeerMap,
  parseProxyHeader,
  resolveSessionIdentity,
  type PeerIdentity,
  type ProxyHeader,
} from '../../src/identity/index.js';

const table = parsePeerMap(
  `peers:
  - { cidr: 100.64.0.0/10, clientId: tunnel-pool }
  - { cidr: 100.64.1.7/32, clientId: laptop-ana, userId: ana@example.com }
  - { cidr: 10.9.0.0/24, clientId: edge-proxy }
`,
  'peers.yaml',
);
const peerMap = { lookup: (ip: string): PeerIdentity | undefined => table.lookup(ip)?.value };

function header(fields: Parameters<typeof encodeProxyV2>[0]): ProxyHeader {
  const result = parseProxyHeader(encodeProxyV2(fields));
  if (result.state !== 'done') throw new Error('test header did not parse');
  return result.header;
}

const viaProxy = {
  family: 'tcp4',
  sourceAddress: '100.64.1.7',
  sourcePort: 41000,
  destAddress: '10.0.0.5',
  destPort: 5432,
} as const;

describe('resolveSessionIdentity', () => {
  it('TLV identity wins over the peer map, whole', () => {
    const identity = resolveSessionIdentity({
      remoteAddress: '10.9.0.2',
      remotePort: 3333,
      header: header({ ...viaProxy, userId: 'bob@example.com' }),
      peerMap,
    });
    expect(identity).toEqual({
      clientId: '',
      userId: 'bob@example.com',
      sourceIp: '100.64.1.7',
      sourcePort: 41000,
      identitySource: 'proxy_tlv',
    });
    expect(Object.isFrozen(identity)).toBe(true);
  });

  it('without TLVs, the peer map is asked about the PROXY source, not the edge proxy', () => {
    const identity = resolveSessionIdentity({
      remoteAddress: '10.9.0.2',
      remotePort: 3333,
      header: header(viaProxy),
      peerMap,
    });
    expect(identity).toMatchObject({
      clientId: 'laptop-ana',
      userId: 'ana@example.com',
      sourceIp: '100.64.1.7',
      identitySource: 'peer_map',
    });
  });

  it('without a header, the socket peer is the source', () => {
    expect(
      resolveSessionIdentity({ remoteAddress: '::ffff:100.64.9.9', remotePort: 5, peerMap }),
    ).toEqual({
      clientId: 'tunnel-pool',
      userId: '',
      sourceIp: '::ffff:100.64.9.9',
      sourcePort: 5,
      identitySource: 'peer_map',
    });
  });

  it('LOCAL and UNKNOWN headers keep the socket address', () => {
    const local = resolveSessionIdentity({
      remoteAddress: '10.9.0.2',
      remotePort: 1,
      header: header({ command: 'local' }),
      peerMap,
    });
    expect(local).toMatchObject({
      sourceIp: '10.9.0.2',
      sourcePort: 1,
      clientId: 'edge-proxy',
      identitySource: 'peer_map',
    });
    const unknown = resolveSessionIdentity({
      remoteAddress: '10.9.0.2',
      remotePort: 1,
      header: header({ family: 'unknown' }),
    });
    expect(unknown).toMatchObject({
      sourceIp: '10.9.0.2',
      identitySource: 'none',
      clientId: '',
      userId: '',
    });
  });

  it('empty when nothing is known', () => {
    expect(
      resolveSessionIdentity({ remoteAddress: '192.0.2.1', remotePort: 9, peerMap }),
    ).toMatchObject({
      clientId: '',
      userId: '',
      identitySource: 'none',
    });
  });
});

describe('IdentityTelemetry', () => {
  it('counts with bounded labels and warns once per resource and reason', () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
    );
    const registry = new Registry();
    const telemetry = new IdentityTelemetry(log, registry);
    telemetry.proxyHeaderRejected(
      'db',
      'proxy_header_untrusted',
      'source is not in trustedCidrs',
      '192.0.2.1',
    );
    telemetry.proxyHeaderRejected(
      'db',
      'proxy_header_untrusted',
      'source is not in trustedCidrs',
      '192.0.2.2',
    );
    telemetry.proxyHeaderAccepted('db', 2);
    telemetry.proxyHeaderAccepted('db', 'none');
    telemetry.peerMapLoaded('peers.yaml', 3);
    telemetry.peerMapReloaded('peers.yaml', { ok: true, trigger: 'manual', entries: 5 });
    telemetry.peerMapReloaded('peers.yaml', {
      ok: false,
      trigger: 'watch',
      err: new IdentityError('PEER_MAP_INVALID', 'x'),
    });
    const text = registry.render();
    expect(text).toContain(
      'connlog_agent_proxy_header_rejected_total{resource="db",reason="proxy_header_untrusted"} 2',
    );
    expect(text).toContain('connlog_agent_proxy_headers_total{resource="db",version="2"} 1');
    expect(text).toContain('connlog_agent_proxy_headers_total{resource="db",version="none"} 1');
    expect(text).toContain('connlog_agent_peer_map_reloads_total{outcome="ok"} 1');
    expect(text).toContain('connlog_agent_peer_map_reloads_total{outcome="failed"} 1');
    expect(text).toContain('connlog_agent_peer_map_entries{file="peers.yaml"} 5');
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    expect(lines.filter((l) => l.level === 20)).toHaveLength(1);
  });
});
