import { CidrTable, cidrKey, parseCidr, type Cidr } from './cidr.js';
import { IdentityError } from './errors.js';
import type { ParsedIp } from './ip.js';
import {
  resolveParserOptions,
  type ProxyParserOptions,
  type ResolvedParserOptions,
} from './proxy_header.js';

/**
 * `off`: no header is read; bytes pass through untouched. `optional`: a header from a
 * trusted source is used, no header is fine, a header from an untrusted source is
 * rejected. `required`: a trusted source must send a header; an untrusted source is
 * rejected at accept.
 */
export type ProxyProtocolMode = 'off' | 'optional' | 'required';

export const PROXY_PROTOCOL_MODES: readonly ProxyProtocolMode[] = ['off', 'optional', 'required'];

/** PROXY protocol settings of a listener (top level or one resource), as configured. */
export interface ProxyProtocolPolicy extends ProxyParserOptions {
  /** @default "off" */
  readonly mode?: ProxyProtocolMode;
  /**
   * Sources allowed to send a header (the edge proxies, tunnel endpoints). IPs or
   * CIDRs, IPv4 or IPv6; an IPv4 CIDR also matches IPv4-mapped IPv6 peers. Required
   * (non-empty) unless `mode` is `off`.
   * @default []
   */
  readonly trustedCidrs?: readonly string[];
  /**
   * How long a connection may take to deliver its header. `required`: the connection
   * is rejected with `proxy_header_timeout`. `optional`: it goes on without a header,
   * which is also what server-speaks-first protocols (SSH, SMTP, MySQL) need. 1..60000.
   * @default 3000
   */
  readonly headerTimeoutMs?: number;
}

/** A checked policy with its trusted CIDRs compiled; what the gate runs on. */
export interface ResolvedProxyProtocolPolicy extends ResolvedParserOptions {
  readonly mode: ProxyProtocolMode;
  readonly trustedCidrs: readonly Cidr[];
  readonly trusted: CidrTable<true>;
  readonly headerTimeoutMs: number;
}

export const DEFAULT_HEADER_TIMEOUT_MS = 3000;
const MAX_HEADER_TIMEOUT_MS = 60_000;

/**
 * Apply defaults, parse the CIDRs and check every value. Throws `POLICY_INVALID` (or
 * `CIDR_INVALID`) with a message naming the key under `path`, e.g.
 * `resources[2].proxyProtocol.trustedCidrs[0]: invalid CIDR "10.0.0.300/8": ...`.
 */
export function resolveProxyProtocolPolicy(
  policy: ProxyProtocolPolicy = {},
  path = 'proxyProtocol',
): ResolvedProxyProtocolPolicy {
  const fail = (key: string, why: string): never => {
    throw new IdentityError('POLICY_INVALID', `${path}.${key}: ${why}`);
  };
  const mode = policy.mode ?? 'off';
  if (!PROXY_PROTOCOL_MODES.includes(mode)) {
    fail('mode', `expected one of ${PROXY_PROTOCOL_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const texts: readonly unknown[] = policy.trustedCidrs ?? [];
  if (!Array.isArray(texts)) fail('trustedCidrs', 'expected a list of IPs or CIDRs');
  const byText = new Map<string, Cidr>();
  texts.forEach((text, index) => {
    if (typeof text !== 'string') fail(`trustedCidrs[${index}]`, 'expected an IP or CIDR string');
    const cidr = parseCidr(text as string, `${path}.trustedCidrs[${index}]`);
    byText.set(cidrKey(cidr), cidr);
  });
  if (mode !== 'off' && byText.size === 0) {
    fail('trustedCidrs', `must list at least one IP or CIDR when mode is ${mode}`);
  }
  const headerTimeoutMs = policy.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  if (
    !Number.isInteger(headerTimeoutMs) ||
    headerTimeoutMs < 1 ||
    headerTimeoutMs > MAX_HEADER_TIMEOUT_MS
  ) {
    fail(
      'headerTimeout',
      `expected 1..${MAX_HEADER_TIMEOUT_MS} ms, got ${String(headerTimeoutMs)}`,
    );
  }
  const trustedCidrs = [...byText.values()];
  return {
    ...resolveParserOptions(policy, path),
    mode,
    trustedCidrs,
    trusted: new CidrTable(trustedCidrs.map((cidr) => [cidr, true] as const)),
    headerTimeoutMs,
  };
}

/**
 * Whether `address` (a socket's remote address, zone ids allowed) lies in one of the
 * trusted CIDRs. Pass a compiled table on hot paths; a list of strings is parsed on
 * each call. An unparsable or missing address is never trusted.
 */
export function isTrustedSource(
  address: string | ParsedIp | undefined,
  trustedCidrs: readonly (string | Cidr)[] | CidrTable<unknown>,
): boolean {
  if (address === undefined) return false;
  if (trustedCidrs instanceof CidrTable) return trustedCidrs.has(address);
  const table = new CidrTable(
    dedupe(
      trustedCidrs.map((cidr, index) =>
        typeof cidr === 'string' ? parseCidr(cidr, `trustedCidrs[${index}]`) : cidr,
      ),
    ).map((cidr) => [cidr, true] as const),
  );
  return table.has(address);
}

function dedupe(cidrs: readonly Cidr[]): Cidr[] {
  return [...new Map(cidrs.map((cidr) => [cidrKey(cidr), cidr])).values()];
}
