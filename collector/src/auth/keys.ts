/**
 * API keys, stored in the NATS KV bucket `connlog_apikeys` (key = key id) so every
 * collector of a deployment accepts the same keys. The bucket holds only a hash of
 * each secret (see key_format.ts). Each collector verifies against a local copy kept
 * current by a KV watch: a new key works, and a revoked key stops working, on every
 * collector within about a second.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import { createKvMirror } from '../admin/kv_mirror.js';
import { ALL_ORGS, ROLES, type Principal, type Role } from './authorize.js';
import { AuthError } from './errors.js';
import {
  formatKey,
  hashSecret,
  isKeyId,
  newKeyId,
  newSecret,
  parseKey,
  secretMatches,
} from './key_format.js';
import { createAuthTelemetry, type AuthFailure } from './telemetry.js';

export const APIKEY_BUCKET = 'connlog_apikeys';

/** What the bucket stores per key. */
interface StoredKey {
  id: string;
  name: string;
  role: Role;
  org: string;
  /** `sha256:<hex>` of the secret. */
  hash: string;
  createdAt: string;
  createdBy: string;
}

/** A key as `list()` shows it: everything but the hash. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  role: Role;
  /** One org, or `*` for all. */
  org: string;
  /** RFC 3339. */
  createdAt: string;
  createdBy: string;
}

export interface CreateKeyInput {
  role: Role;
  /** One org id, or `*` for every org. */
  org: string;
  /** What the key is for (1-64 printable characters), shown in lists and the admin log. */
  name: string;
  /** Who created it (`api_key:<id>`, `cli:<user>`). @default "" */
  createdBy?: string;
}

export type CheckResult = { ok: true; principal: Principal } | { ok: false; reason: AuthFailure };

export interface ApiKeys {
  /** Create a key; `key` is the only time the secret exists outside the caller's hands. */
  create(input: CreateKeyInput): Promise<{ id: string; key: string; info: ApiKeyInfo }>;
  /** Every key, without secrets or hashes, sorted by creation time. */
  list(): ApiKeyInfo[];
  get(id: string): ApiKeyInfo | undefined;
  /** Revoke (delete) a key everywhere. Throws APIKEY_NOT_FOUND for an unknown id. */
  revoke(id: string): Promise<ApiKeyInfo>;
  /** The key's principal, or undefined. Synchronous, from the local copy. */
  verify(key: string): Principal | undefined;
  /** Like verify, with the reason for a refusal (counted in metrics). */
  check(key: string | undefined): CheckResult;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface ApiKeysOptions {
  nc: NatsConnection;
  log: Logger;
  registry?: Registry;
  /** @default "connlog_apikeys" */
  bucket?: string;
  /** Replicas of the KV stream on a NATS cluster. @default 1 */
  replicas?: number;
}

const ORG = /^[A-Za-z0-9_-]{1,64}$/;
// Printable, no control characters: names end up in logs and CSV.
const NAME = /^[^\p{Cc}]{1,64}$/u;

export async function createApiKeys(options: ApiKeysOptions): Promise<ApiKeys> {
  const { log } = options;
  const bucket = options.bucket ?? APIKEY_BUCKET;
  let kv: KV;
  try {
    kv = await new Kvm(options.nc).create(bucket, {
      history: 1,
      replicas: options.replicas ?? 1,
      description: 'connlog: API keys (hashes only)',
    });
  } catch (err) {
    throw new AuthError('APIKEY_UNAVAILABLE', `cannot open NATS KV bucket ${bucket}`, {
      cause: err,
    });
  }
  const mirror = createKvMirror<StoredKey>({
    kv,
    log,
    what: bucket,
    parse: (id, entry) => parseStored(id, entry.json<unknown>()),
  });
  const telemetry = createAuthTelemetry(log, options.registry, () => mirror.size);
  try {
    await mirror.ready;
  } catch (err) {
    await mirror.close();
    throw new AuthError('APIKEY_UNAVAILABLE', `cannot read NATS KV bucket ${bucket}`, {
      cause: err,
    });
  }
  let closed = false;
  const assertOpen = (): void => {
    if (closed) throw new AuthError('APIKEY_CLOSED', 'API keys are closed');
  };
  // Hash compared when the id is unknown, so both paths do the same work.
  const decoy = hashSecret(newSecret());

  const check = (key: string | undefined): CheckResult => {
    const fail = (reason: AuthFailure): CheckResult => {
      telemetry.refused(reason);
      return { ok: false, reason };
    };
    if (key === undefined || key === '') return fail('missing');
    const parsed = parseKey(key);
    if (!parsed) return fail('malformed');
    const stored = mirror.get(parsed.id);
    const matches = secretMatches(parsed.secret, stored?.hash ?? decoy);
    if (!stored) return fail('unknown_key');
    if (!matches) return fail('bad_secret');
    telemetry.verified();
    return {
      ok: true,
      principal: {
        kind: 'api_key',
        keyId: stored.id,
        name: stored.name,
        role: stored.role,
        org: stored.org,
      },
    };
  };

  return {
    async create(input) {
      assertOpen();
      const { role, org, name } = validateCreate(input);
      const id = newKeyId();
      const secret = newSecret();
      const stored: StoredKey = {
        id,
        name,
        role,
        org,
        hash: hashSecret(secret),
        createdAt: new Date().toISOString(),
        createdBy: typeof input.createdBy === 'string' ? input.createdBy.slice(0, 256) : '',
      };
      let revision: number;
      try {
        // create, not put: never overwrite an existing key on an id collision.
        revision = await kv.create(id, JSON.stringify(stored));
      } catch (err) {
        throw new AuthError('APIKEY_UNAVAILABLE', 'cannot store the new API key', { cause: err });
      }
      mirror.update(id, stored, revision);
      telemetry.created(id, role, org, name);
      return { id, key: formatKey(id, secret), info: info(stored) };
    },
    list: () =>
      mirror
        .entries()
        .map(([, stored]) => info(stored))
        .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)),
    get: (id) => {
      const stored = mirror.get(id);
      return stored ? info(stored) : undefined;
    },
    async revoke(id) {
      assertOpen();
      if (typeof id !== 'string' || !isKeyId(id)) {
        throw new AuthError(
          'APIKEY_INVALID',
          `id must be 16 hex digits, got ${JSON.stringify(id)}`,
        );
      }
      const stored = mirror.get(id);
      if (!stored) throw new AuthError('APIKEY_NOT_FOUND', `no API key with id ${id}`);
      try {
        await kv.delete(id);
        // The delete marker's revision, so the local copy applies it in order now.
        const marker = await kv.get(id);
        mirror.update(id, undefined, marker?.revision ?? Number.MAX_SAFE_INTEGER);
      } catch (err) {
        throw new AuthError('APIKEY_UNAVAILABLE', `cannot revoke API key ${id}`, { cause: err });
      }
      telemetry.revoked(id);
      return info(stored);
    },
    verify: (key) => {
      const result = check(key);
      return result.ok ? result.principal : undefined;
    },
    check,
    async close() {
      if (closed) return;
      closed = true;
      await mirror.close();
    },
  };
}

function info(stored: StoredKey): ApiKeyInfo {
  return {
    id: stored.id,
    name: stored.name,
    role: stored.role,
    org: stored.org,
    createdAt: stored.createdAt,
    createdBy: stored.createdBy,
  };
}

function validateCreate(input: CreateKeyInput): { role: Role; org: string; name: string } {
  const { role, org, name } = input;
  if (!ROLES.includes(role)) {
    throw new AuthError(
      'APIKEY_INVALID',
      `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`,
    );
  }
  if (typeof org !== 'string' || (org !== ALL_ORGS && !ORG.test(org))) {
    throw new AuthError(
      'APIKEY_INVALID',
      `org must be "*" or 1-64 characters of letters, digits, "_" or "-", got ${JSON.stringify(org)}`,
    );
  }
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new AuthError(
      'APIKEY_INVALID',
      `name must be 1-64 characters without control characters, got ${JSON.stringify(name)}`,
    );
  }
  return { role, org, name };
}

/** A stored key, checked: anything unexpected makes the key unusable (logged). */
function parseStored(id: string, raw: unknown): StoredKey {
  if (!isKeyId(id)) throw new Error(`KV key ${id} is not a key id`);
  if (typeof raw !== 'object' || raw === null) throw new Error(`value of ${id} is not an object`);
  const v = raw as Record<string, unknown>;
  const str = (name: string): string => {
    const value = v[name];
    if (typeof value !== 'string') throw new Error(`${name} of key ${id} is not a string`);
    return value;
  };
  const role = str('role');
  if (!(ROLES as readonly string[]).includes(role)) throw new Error(`role of key ${id} is ${role}`);
  const org = str('org');
  if (org !== ALL_ORGS && !ORG.test(org)) throw new Error(`org of key ${id} is invalid`);
  const hash = str('hash');
  if (!/^sha256:[0-9a-f]{64}$/.test(hash)) throw new Error(`hash of key ${id} is malformed`);
  return {
    id,
    name: str('name'),
    role: role as Role,
    org,
    hash,
    createdAt: typeof v.createdAt === 'string' ? v.createdAt : '',
    createdBy: typeof v.createdBy === 'string' ? v.createdBy : '',
  };
}
