import { parse as parseYaml } from 'yaml';
import { CidrTable, cidrKey, parseCidr, type Cidr } from './cidr.js';
import { IdentityError } from './errors.js';
import { identityTextProblem } from './identity_text.js';

/** Who a source address belongs to; `''` for an unknown part, as in the session row. */
export interface PeerIdentity {
  readonly clientId: string;
  readonly userId: string;
}

/** Upper bound of a peer map file; a bigger one is refused (the map lives in memory). */
export const PEER_MAP_MAX_BYTES = 16 * 1024 * 1024;

const TOP_KEYS = ['peers'];
const ENTRY_KEYS = ['cidr', 'clientId', 'userId'];

/**
 * Parse a peer map (YAML; JSON is valid YAML too):
 *
 * ```yaml
 * peers:
 *   - { cidr: 100.64.0.0/10, clientId: tunnel-pool }
 *   - { cidr: 100.64.1.7/32, clientId: laptop-ana, userId: ana@example.com }
 * ```
 *
 * Throws `PEER_MAP_INVALID` naming the file and the entry/key, e.g.
 * `peers.yaml: peers[1].cidr: invalid CIDR "100.64.1.7/33": prefix length must be 0..32`.
 * An empty file is an error (it is also what a reader sees in the middle of an
 * in-place write); `peers: []` is the way to say "no peers".
 */
export function parsePeerMap(text: string, file: string): CidrTable<PeerIdentity> {
  const fail = (path: string, why: string, cause?: unknown): never => {
    throw new IdentityError(
      'PEER_MAP_INVALID',
      `${file}: ${path}${path === '' ? '' : ': '}${why}`,
      { cause },
    );
  };
  if (Buffer.byteLength(text, 'utf8') > PEER_MAP_MAX_BYTES) fail('', 'file larger than 16 MiB');
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    fail('', `not valid YAML: ${err instanceof Error ? firstLine(err.message) : String(err)}`, err);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    fail('(root)', 'expected a mapping with a `peers` list');
  }
  const root = doc as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!TOP_KEYS.includes(key)) fail(key, `unknown key (known keys: ${TOP_KEYS.join(', ')})`);
  }
  if (!('peers' in root)) fail('peers', 'missing (use `peers: []` for an empty map)');
  const peers = root.peers ?? [];
  if (!Array.isArray(peers)) fail('peers', 'expected a list');
  const seen = new Map<string, number>();
  const entries: (readonly [Cidr, PeerIdentity])[] = [];
  (peers as unknown[]).forEach((raw, index) => {
    const at = `peers[${index}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(at, 'expected a mapping with cidr and clientId and/or userId');
    }
    const entry = raw as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (!ENTRY_KEYS.includes(key))
        fail(`${at}.${key}`, `unknown key (known keys: ${ENTRY_KEYS.join(', ')})`);
    }
    if (typeof entry.cidr !== 'string') fail(`${at}.cidr`, 'expected an IP or CIDR string');
    let cidr: Cidr | undefined;
    try {
      cidr = parseCidr(entry.cidr as string, `${at}.cidr`);
    } catch (err) {
      fail('', err instanceof Error ? err.message : String(err), err);
    }
    if (!cidr) return;
    const previous = seen.get(cidrKey(cidr));
    if (previous !== undefined)
      fail(`${at}.cidr`, `${cidr.text} is already mapped by peers[${previous}]`);
    seen.set(cidrKey(cidr), index);
    const clientId = identity(entry.clientId, `${at}.clientId`, fail);
    const userId = identity(entry.userId, `${at}.userId`, fail);
    if (clientId === '' && userId === '') fail(at, 'needs clientId or userId (or both)');
    entries.push([cidr, Object.freeze({ clientId, userId })]);
  });
  return new CidrTable(entries);
}

function identity(
  value: unknown,
  path: string,
  fail: (path: string, why: string) => never,
): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string')
    fail(
      path,
      `expected a string, got ${typeof value === 'object' ? 'a structure' : JSON.stringify(value)} (quote it)`,
    );
  const text = value;
  if (text === '') fail(path, 'must not be empty (leave the key out instead)');
  const problem = identityTextProblem(text);
  if (problem !== undefined) fail(path, problem);
  return text;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}
