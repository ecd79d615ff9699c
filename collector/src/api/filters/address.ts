import { isIP } from 'node:net';

/**
 * The `source` / `dest` filters: an IP, a CIDR, or `ip:port` (`[v6]:port` for IPv6).
 * The store keeps every address as IPv6 with IPv4 mapped (`::ffff:10.0.0.1`), so an
 * IPv4 address or network is translated into that space here: `10.0.0.0/8` becomes
 * `::ffff:10.0.0.0/104`.
 */
export type AddressMatch =
  | { kind: 'ip'; /** IPv6 text, IPv4 mapped. */ ip: string; port?: number }
  | { kind: 'cidr'; /** IPv6 text, IPv4 mapped. */ network: string; /** 0-128. */ prefix: number };

const PORT = /^\d{1,5}$/;
const PREFIX = /^\d{1,3}$/;

/** IPv6 text for an IPv4 or IPv6 address, IPv4 mapped; undefined when not an address. */
export function toMappedIpv6(text: string): string | undefined {
  const family = isIP(text);
  if (family === 4) return `::ffff:${text}`;
  // Zone ids (`fe80::1%eth0`) never reach the store: refuse rather than strip.
  if (family === 6 && !text.includes('%')) return text.toLowerCase();
  return undefined;
}

function parsePort(text: string): number | string {
  if (!PORT.test(text)) return `port "${text}" is not a number`;
  const port = Number(text);
  return port > 65535 ? `port ${port} is above 65535` : port;
}

/**
 * Parse one `source`/`dest` value. Returns the match, or a sentence saying what is
 * wrong with the value (the caller names the parameter).
 */
export function parseAddress(value: string): AddressMatch | string {
  const text = value.trim();
  if (text === '') return 'empty address';

  const slash = text.indexOf('/');
  if (slash >= 0) {
    const base = text.slice(0, slash);
    const bits = text.slice(slash + 1);
    const family = isIP(base);
    if (family === 0 || base.includes('%')) {
      return `"${base}" is not an IPv4 or IPv6 address (CIDR is <address>/<prefix>; no port)`;
    }
    if (!PREFIX.test(bits)) return `prefix length "${bits}" is not a number`;
    const prefix = Number(bits);
    const max = family === 4 ? 32 : 128;
    if (prefix > max) return `prefix length ${prefix} is above ${max} for IPv${family}`;
    return family === 4
      ? { kind: 'cidr', network: `::ffff:${base}`, prefix: prefix + 96 }
      : { kind: 'cidr', network: base.toLowerCase(), prefix };
  }

  // [v6]:port or [v6]
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return 'missing "]" after the IPv6 address';
    const host = text.slice(1, close);
    if (isIP(host) !== 6 || host.includes('%')) return `"${host}" is not an IPv6 address`;
    const rest = text.slice(close + 1);
    if (rest === '') return { kind: 'ip', ip: host.toLowerCase() };
    if (!rest.startsWith(':')) return `unexpected "${rest}" after "]" (expected :port)`;
    const port = parsePort(rest.slice(1));
    return typeof port === 'string' ? port : { kind: 'ip', ip: host.toLowerCase(), port };
  }

  const plain = toMappedIpv6(text);
  if (plain !== undefined) return { kind: 'ip', ip: plain };

  // ipv4:port (a bare IPv6 with a port must be bracketed: its colons are ambiguous)
  const colon = text.lastIndexOf(':');
  if (colon > 0 && text.indexOf(':') === colon) {
    const host = text.slice(0, colon);
    if (isIP(host) === 4) {
      const port = parsePort(text.slice(colon + 1));
      return typeof port === 'string' ? port : { kind: 'ip', ip: `::ffff:${host}`, port };
    }
  }
  return `"${text}" is not an IP, a CIDR, ip:port or [ipv6]:port`;
}
