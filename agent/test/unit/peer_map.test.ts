import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, waitFor } from '@connlog/testkit';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  IdentityError,
  createPeerMap,
  parsePeerMap,
  type PeerMap,
  type PeerMapReloadEvent,
} from '../../src/identity/index.js';

interface LogLine {
  level: number;
  msg: string;
  file?: string;
  err?: { message: string; code?: string };
}

function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

const MAP_V1 = `peers:
  - { cidr: 100.64.0.0/10, clientId: tunnel-pool }
  - { cidr: 100.64.1.7/32, clientId: laptop-ana, userId: ana@example.com }
  - { cidr: "2001:db8:7::/48", userId: ops@example.com }
`;
const MAP_V2 = `peers:
  - { cidr: 100.64.0.0/10, clientId: tunnel-pool-2 }
`;

function invalid(text: string): string {
  try {
    parsePeerMap(text, 'peers.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(IdentityError);
    expect((err as IdentityError).code).toBe('PEER_MAP_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected the peer map to be refused');
}

describe('peer map file', () => {
  it('parses YAML and answers with the most specific entry', () => {
    const table = parsePeerMap(MAP_V1, 'peers.yaml');
    expect(table.size).toBe(3);
    expect(table.lookup('100.64.1.7')?.value).toEqual({
      clientId: 'laptop-ana',
      userId: 'ana@example.com',
    });
    expect(table.lookup('::ffff:100.64.1.7')?.value).toEqual({
      clientId: 'laptop-ana',
      userId: 'ana@example.com',
    });
    // Most specific entry wins whole: no mixing with broader entries.
    expect(table.lookup('100.64.1.8')?.value).toEqual({ clientId: 'tunnel-pool', userId: '' });
    expect(table.lookup('2001:db8:7::9')?.value).toEqual({
      clientId: '',
      userId: 'ops@example.com',
    });
    expect(table.lookup('192.0.2.1')).toBeUndefined();
  });

  it('accepts JSON and an explicitly empty list', () => {
    expect(
      parsePeerMap('{"peers":[{"cidr":"10.0.0.0/8","clientId":"lan"}]}', 'p.json').lookup(
        '10.1.1.1',
      )?.value.clientId,
    ).toBe('lan');
    expect(parsePeerMap('peers: []', 'p.yaml').size).toBe(0);
    expect(parsePeerMap('peers:', 'p.yaml').size).toBe(0);
  });

  it.each([
    ['an empty file', '', /peers.yaml: \(root\): expected a mapping with a `peers` list/],
    ['no peers key', 'other: 1', /peers.yaml: other: unknown key \(known keys: peers\)/],
    ['peers not a list', 'peers: { cidr: 10.0.0.0/8 }', /peers.yaml: peers: expected a list/],
    [
      'a bad CIDR',
      'peers:\n  - { cidr: 10.0.0.0/8, clientId: a }\n  - { cidr: 10.0.0.0/33, clientId: b }',
      /peers.yaml: peers\[1\].cidr: invalid CIDR "10.0.0.0\/33": prefix length must be 0..32/,
    ],
    [
      'host bits set',
      'peers:\n  - { cidr: 10.0.0.1/8, clientId: a }',
      /peers\[0\].cidr: .*did you mean 10.0.0.0\/8/,
    ],
    [
      'a missing CIDR',
      'peers:\n  - { clientId: a }',
      /peers\[0\].cidr: expected an IP or CIDR string/,
    ],
    [
      'an unknown entry key',
      'peers:\n  - { cidr: 10.0.0.0/8, client: a }',
      /peers\[0\].client: unknown key/,
    ],
    ['no identity', 'peers:\n  - { cidr: 10.0.0.0/8 }', /peers\[0\]: needs clientId or userId/],
    [
      'an empty identity',
      'peers:\n  - { cidr: 10.0.0.0/8, clientId: "" }',
      /peers\[0\].clientId: must not be empty/,
    ],
    [
      'a number identity',
      'peers:\n  - { cidr: 10.0.0.0/8, clientId: 1234 }',
      /peers\[0\].clientId: expected a string, got 1234 \(quote it\)/,
    ],
    [
      'a control character',
      'peers:\n  - { cidr: 10.0.0.0/8, userId: "a\\u0007b" }',
      /peers\[0\].userId: contains a control character/,
    ],
    [
      'a duplicate CIDR',
      'peers:\n  - { cidr: 10.0.0.0/8, clientId: a }\n  - { cidr: "::ffff:10.0.0.0/104", clientId: b }',
      /peers\[1\].cidr: ::ffff:10.0.0.0\/104 is already mapped by peers\[0\]/,
    ],
    ['a duplicate YAML key', 'peers: []\npeers: []', /not valid YAML/],
    ['broken YAML', 'peers: [', /not valid YAML/],
  ])('refuses %s, naming the entry', (_name, text, message) => {
    expect(invalid(text)).toMatch(message);
  });
});

describe('createPeerMap', () => {
  let dir: { path: string; remove: () => void };
  let file: string;
  let map: PeerMap | undefined;

  beforeEach(() => {
    dir = tempDir('peer-map');
    file = join(dir.path, 'peers.yaml');
    writeFileSync(file, MAP_V1);
  });

  afterEach(() => {
    map?.close();
    map = undefined;
    dir.remove();
  });

  /** Replace the file the way editors and config managers do: write aside, rename over. */
  function replace(text: string): void {
    const temp = join(dir.path, `.peers.yaml.${Math.random().toString(36).slice(2)}`);
    writeFileSync(temp, text);
    renameSync(temp, file);
  }

  it('loads at start and logs the entry count', async () => {
    const { log, lines } = captureLogger();
    map = await createPeerMap({ file, log, watch: false });
    expect(map.lookup('100.64.1.7')).toEqual({ clientId: 'laptop-ana', userId: 'ana@example.com' });
    expect(map.stats()).toEqual({ entries: 3, reloadsOk: 0, reloadsFailed: 0, checks: 0 });
    expect(lines.some((l) => l.msg === 'peer map loaded')).toBe(true);
  });

  it('fails at start on a bad file, naming file and entry', async () => {
    writeFileSync(
      file,
      'peers:\n  - { cidr: 10.0.0.0/8, clientId: a }\n  - { cidr: nope, clientId: b }\n',
    );
    const { log } = captureLogger();
    await expect(createPeerMap({ file, log })).rejects.toThrow(
      /peers\.yaml: peers\[1\]\.cidr: invalid CIDR "nope"/,
    );
    await expect(createPeerMap({ file: join(dir.path, 'absent.yaml'), log })).rejects.toMatchObject(
      {
        code: 'PEER_MAP_READ',
        message: expect.stringMatching(
          /absent\.yaml: cannot read the peer map \(ENOENT\)/,
        ) as unknown,
      },
    );
  });

  it('reloads when the file is replaced by rename, and when rewritten in place', async () => {
    const events: PeerMapReloadEvent[] = [];
    const { log } = captureLogger();
    map = await createPeerMap({
      file,
      log,
      debounceMs: 20,
      onReload: (event) => events.push(event),
    });
    const captured = map.lookup('100.64.1.7');

    replace(MAP_V2);
    await waitFor(
      () => map?.lookup('100.64.1.7')?.clientId === 'tunnel-pool-2',
      10_000,
      'reload after rename',
    );
    expect(map.stats()).toMatchObject({ entries: 1, reloadsOk: 1, reloadsFailed: 0 });
    expect(events).toEqual([{ ok: true, trigger: 'watch', entries: 1 }]);
    // An identity captured before the reload is untouched by it.
    expect(captured).toEqual({ clientId: 'laptop-ana', userId: 'ana@example.com' });

    writeFileSync(file, MAP_V1);
    await waitFor(
      () => map?.lookup('100.64.1.7')?.clientId === 'laptop-ana',
      10_000,
      'reload after in-place write',
    );
    expect(map.stats().reloadsOk).toBe(2);
  });

  it('does not count directory events that leave the file unchanged', async () => {
    const { log } = captureLogger();
    map = await createPeerMap({ file, log, debounceMs: 20 });
    writeFileSync(join(dir.path, 'unrelated.txt'), 'x');
    await waitFor(
      () => (map?.stats().checks ?? 0) >= 1,
      10_000,
      'a check after an unrelated file changed',
    );
    replace(MAP_V1);
    const checks = map.stats().checks;
    await waitFor(
      () => (map?.stats().checks ?? 0) > checks,
      10_000,
      'a check after an identical replace',
    );
    expect(map.stats()).toMatchObject({ reloadsOk: 0, reloadsFailed: 0, entries: 3 });
  });

  it('keeps the previous map when the new file is bad, logs why and counts it', async () => {
    const events: PeerMapReloadEvent[] = [];
    const { log, lines } = captureLogger();
    map = await createPeerMap({
      file,
      log,
      debounceMs: 20,
      onReload: (event) => events.push(event),
    });

    replace('peers:\n  - { cidr: 100.64.0.0/10, clientId: "bad\\u0001" }\n');
    await waitFor(() => map?.stats().reloadsFailed === 1, 10_000, 'a failed reload');
    expect(map.lookup('100.64.1.7')).toEqual({ clientId: 'laptop-ana', userId: 'ana@example.com' });
    expect(map.stats().entries).toBe(3);
    const line = lines.find((l) => l.msg === 'peer map reload failed; keeping previous map');
    expect(line?.level).toBe(50);
    expect(line?.file).toBe(file);
    expect(line?.err?.message).toMatch(/peers\[0\]\.clientId: contains a control character/);
    expect(events[0]).toMatchObject({ ok: false, trigger: 'watch' });

    // Deleting the file is a failed reload too; the map stays.
    replace(MAP_V2);
    await waitFor(() => map?.stats().reloadsOk === 1, 10_000, 'recovery after the bad file');
    expect(map.lookup('100.64.1.7')?.clientId).toBe('tunnel-pool-2');
  });

  it('reload() (the SIGHUP path) re-reads at once and reports the outcome', async () => {
    const { log } = captureLogger();
    map = await createPeerMap({ file, log, watch: false });
    writeFileSync(file, MAP_V2);
    await expect(map.reload()).resolves.toBe(true);
    expect(map.lookup('100.64.1.7')?.clientId).toBe('tunnel-pool-2');
    writeFileSync(file, 'peers: [');
    await expect(map.reload()).resolves.toBe(false);
    expect(map.lookup('100.64.1.7')?.clientId).toBe('tunnel-pool-2');
    const unreadable = join(dir.path, 'gone');
    renameSync(file, unreadable);
    await expect(map.reload()).resolves.toBe(false);
    expect(map.stats()).toMatchObject({ reloadsOk: 1, reloadsFailed: 2, entries: 1 });
    // Concurrent calls are serialised and all resolve.
    renameSync(unreadable, file);
    writeFileSync(file, MAP_V1);
    await expect(Promise.all([map.reload(), map.reload(), map.reload()])).resolves.toEqual([
      true,
      true,
      true,
    ]);
    expect(map.stats().entries).toBe(3);
  });

  it('close() is idempotent and lookups keep answering', async () => {
    const { log } = captureLogger();
    map = await createPeerMap({ file, log });
    map.close();
    map.close();
    expect(map.lookup('100.64.1.7')?.clientId).toBe('laptop-ana');
  });

  it('a throwing onReload callback does not break reloading', async () => {
    const { log, lines } = captureLogger();
    map = await createPeerMap({
      file,
      log,
      watch: false,
      onReload: () => {
        throw new Error('telemetry bug');
      },
    });
    writeFileSync(file, MAP_V2);
    await expect(map.reload()).resolves.toBe(true);
    expect(lines.some((l) => l.msg === 'peer map onReload callback threw')).toBe(true);
  });
});
