import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/validate.js';
import { AgentError } from '../../src/errors.js';

const base = {
  org: 'acme',
  site: 'berlin',
  resources: [
    { id: 'db', protocol: 'tcp', listen: '127.0.0.1:15432', target: '10.0.0.5:5432' },
    { id: 'dns', protocol: 'udp', listen: '127.0.0.1:1053', target: '10.0.0.53:53' },
  ],
};

function withPatch(top: Record<string, unknown>, resources: Record<string, unknown>[] = []) {
  return {
    ...base,
    ...top,
    resources: base.resources.map((resource, i) => ({ ...resource, ...(resources[i] ?? {}) })),
  };
}

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AgentError && err.code === 'CONFIG_INVALID') return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('proxyProtocol config', () => {
  it('defaults to off everywhere, with the documented defaults', () => {
    const config = parseConfig(base);
    const expected = {
      mode: 'off',
      trustedCidrs: [],
      headerTimeout: 3000,
      clientIdTlv: 0xe1,
      userIdTlv: 0xe2,
      uniqueIdAsClientId: false,
      maxHeaderBytes: 4096,
    };
    expect(config.proxyProtocol).toEqual(expected);
    expect(config.resources[0]?.proxyProtocol).toEqual(expected);
    expect(config.peerMap).toBeUndefined();
  });

  it('lets a resource override the top-level keys one by one', () => {
    const config = parseConfig(
      withPatch({ proxyProtocol: { trustedCidrs: ['10.9.0.0/24'], headerTimeout: '1s' } }, [
        { proxyProtocol: { mode: 'required' } },
        { proxyProtocol: { mode: 'optional', trustedCidrs: ['10.9.0.7'], userIdTlv: 0xe5 } },
      ]),
    );
    expect(config.proxyProtocol.mode).toBe('off');
    expect(config.resources[0]?.proxyProtocol).toMatchObject({
      mode: 'required',
      trustedCidrs: ['10.9.0.0/24'],
      headerTimeout: 1000,
      userIdTlv: 0xe2,
    });
    expect(config.resources[1]?.proxyProtocol).toMatchObject({
      mode: 'optional',
      trustedCidrs: ['10.9.0.7'],
      headerTimeout: 1000,
      userIdTlv: 0xe5,
    });
  });

  it('reads TLV types as numbers or hex text and sizes as text', () => {
    const config = parseConfig(
      withPatch({
        proxyProtocol: { clientIdTlv: '0xE3', userIdTlv: 228, maxHeaderBytes: '8KiB' },
      }),
    );
    expect(config.proxyProtocol).toMatchObject({
      clientIdTlv: 0xe3,
      userIdTlv: 0xe4,
      maxHeaderBytes: 8192,
    });
  });

  it('names the key of each mistake, where it was written', () => {
    expect(message(() => parseConfig(withPatch({ proxyProtocol: { mode: 'on' } })))).toBe(
      'proxyProtocol.mode: expected one of off, optional, required, got "on"',
    );
    expect(message(() => parseConfig(withPatch({ proxyProtocol: { mode: 'required' } })))).toBe(
      'proxyProtocol.trustedCidrs: must list at least one IP or CIDR when mode is required',
    );
    expect(
      message(() =>
        parseConfig(withPatch({}, [{}, { proxyProtocol: { trustedCidrs: ['10.0.0.300/8'] } }])),
      ),
    ).toBe(
      'resources[1].proxyProtocol.trustedCidrs[0]: invalid CIDR "10.0.0.300/8": not an IPv4 or IPv6 address',
    );
    expect(
      message(() => parseConfig(withPatch({ proxyProtocol: { trustedCidrs: ['10.0.0.1/8'] } }))),
    ).toMatch(/^proxyProtocol.trustedCidrs\[0\]: invalid CIDR "10.0.0.1\/8": host bits are set/);
    expect(
      message(() => parseConfig(withPatch({}, [{ proxyProtocol: { mode: 'optional' } }]))),
    ).toBe(
      'resources[0].proxyProtocol.trustedCidrs: must list at least one IP or CIDR when mode is optional',
    );
    expect(message(() => parseConfig(withPatch({ proxyProtocol: { clientIdTlv: 0x03 } })))).toBe(
      'proxyProtocol.clientIdTlv: TLV type 0x3 is reserved (CRC32C, NOOP or SSL)',
    );
    expect(
      message(() => parseConfig(withPatch({}, [{ proxyProtocol: { userIdTlv: 0xe1 } }]))),
    ).toBe('resources[0].proxyProtocol.userIdTlv: must differ from clientIdTlv');
    expect(message(() => parseConfig(withPatch({ proxyProtocol: { clientIdTlv: 'E1' } })))).toBe(
      'proxyProtocol.clientIdTlv: expected a TLV type 1..255 (e.g. 0xE1), got "E1"',
    );
    expect(message(() => parseConfig(withPatch({ proxyProtocol: { headerTimeout: '2m' } })))).toBe(
      'proxyProtocol.headerTimeout: must be between 1 and 60000, got "2m"',
    );
    expect(message(() => parseConfig(withPatch({ proxyProtocol: { maxHeaderBytes: 100 } })))).toBe(
      'proxyProtocol.maxHeaderBytes: expected an integer 232..65551, got 100',
    );
    expect(
      message(() => parseConfig(withPatch({ proxyProtocol: { uniqueIdAsClientId: 'yes' } }))),
    ).toBe('proxyProtocol.uniqueIdAsClientId: expected true or false, got "yes"');
  });

  it('rejects unknown keys, naming them', () => {
    expect(message(() => parseConfig(withPatch({ proxyProtocol: { trusted: [] } })))).toMatch(
      /^proxyProtocol.trusted: unknown key \(known keys: mode, trustedCidrs, /,
    );
    expect(
      message(() => parseConfig(withPatch({}, [{ proxyProtocol: { timeout: '1s' } }]))),
    ).toMatch(/^resources\[0\].proxyProtocol.timeout: unknown key/);
    expect(message(() => parseConfig(withPatch({ peerMap: { path: 'x' } })))).toBe(
      'peerMap.path: unknown key (known keys: file)',
    );
  });
});

describe('peerMap config', () => {
  it('takes a file, and requires it when the block is present', () => {
    expect(
      parseConfig(withPatch({ peerMap: { file: '/etc/connlog/peers.yaml' } })).peerMap,
    ).toEqual({ file: '/etc/connlog/peers.yaml' });
    expect(message(() => parseConfig(withPatch({ peerMap: {} })))).toBe(
      'peerMap.file: is required (leave out the peerMap block for no peer map)',
    );
    expect(message(() => parseConfig(withPatch({ peerMap: { file: 7 } })))).toBe(
      'peerMap.file: expected a string, got 7',
    );
  });
});

describe('peerMap per resource', () => {
  it('a resource inherits the top-level peer map or names its own', () => {
    const config = parseConfig(
      withPatch({ peerMap: { file: '/etc/connlog/peers.yaml' } }, [
        {},
        { peerMap: { file: '/etc/connlog/dns-peers.yaml' } },
      ]),
    );
    expect(config.resources[0]?.peerMap).toEqual({ file: '/etc/connlog/peers.yaml' });
    expect(config.resources[1]?.peerMap).toEqual({ file: '/etc/connlog/dns-peers.yaml' });
    expect(parseConfig(base).resources[0]?.peerMap).toBeUndefined();
    expect(message(() => parseConfig(withPatch({}, [{}, { peerMap: { file: '' } }])))).toBe(
      'resources[1].peerMap.file: must not be empty',
    );
  });
});

describe('identity env vars', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-config-identity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    `org: acme
site: berlin
resources:
  - { id: db, protocol: tcp, listen: "127.0.0.1:15432", target: "10.0.0.5:5432" }
`,
  );

  it('sets the top-level mode, trusted CIDRs (comma-separated) and peer map file', () => {
    const config = loadConfig(file, {
      CONNLOG_AGENT_PROXY_PROTOCOL_MODE: 'optional',
      CONNLOG_AGENT_PROXY_PROTOCOL_TRUSTED_CIDRS: '10.9.0.0/24, fd00:9::/64',
      CONNLOG_AGENT_PEER_MAP_FILE: '/etc/connlog/peers.yaml',
    });
    expect(config.resources[0]?.proxyProtocol).toMatchObject({
      mode: 'optional',
      trustedCidrs: ['10.9.0.0/24', 'fd00:9::/64'],
    });
    expect(config.peerMap?.file).toBe('/etc/connlog/peers.yaml');
  });

  it('names the env var a bad value came from', () => {
    expect(
      message(() =>
        loadConfig(file, {
          CONNLOG_AGENT_PROXY_PROTOCOL_MODE: 'optional',
          CONNLOG_AGENT_PROXY_PROTOCOL_TRUSTED_CIDRS: '10.9.0.0/33',
        }),
      ),
    ).toBe(
      'proxyProtocol.trustedCidrs[0]: invalid CIDR "10.9.0.0/33": prefix length must be 0..32 (from env CONNLOG_AGENT_PROXY_PROTOCOL_TRUSTED_CIDRS)',
    );
  });
});
