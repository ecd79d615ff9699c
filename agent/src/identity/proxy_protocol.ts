import { IdentityError } from './errors.js';
import {
  PROXY_V1_MAX_BYTES,
  PROXY_V1_PREFIX,
  PROXY_V2_FIXED_BYTES,
  PROXY_V2_SIGNATURE,
  resolveParserOptions,
  type ProxyHeader,
  type ProxyParserOptions,
  type ResolvedParserOptions,
} from './proxy_header.js';
import { parseProxyV1 } from './proxy_v1.js';
import { parseProxyV2, proxyV2Length } from './proxy_v2.js';

/**
 * `missing`: the first bytes are not a PROXY header (no signature) — `received` holds
 * every byte so far, which then belongs to the proxied stream. `malformed`: a header
 * started but is invalid (or too large).
 */
export type ProxyParseError = {
  readonly state: 'error';
  readonly code: 'missing' | 'malformed';
  /** Short, bounded, safe to log: says what was wrong, never echoes the bytes. */
  readonly reason: string;
  readonly received: Buffer;
};

export type ProxyParseResult =
  | { readonly state: 'need-more' }
  /** `rest`: bytes after the header, the start of the proxied stream (client bytes). */
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly rest: Buffer }
  | ProxyParseError;

type Version = 1 | 2 | undefined;

/**
 * Incremental PROXY protocol (v1 and v2) parser for the start of a TCP stream. Feed it
 * chunks until it answers `done` or `error`. Memory is bounded: it holds at most 107
 * bytes of a v1 line or `maxHeaderBytes` of a v2 header plus the chunk that completed
 * it; a missing signature is reported from the first byte that differs from both
 * signatures, without waiting. The caller applies the header timeout.
 */
export class ProxyHeaderParser {
  private readonly options: ResolvedParserOptions;
  private readonly chunks: Buffer[] = [];
  private length = 0;
  private version: Version;
  private finished = false;

  constructor(options: ProxyParserOptions = {}) {
    this.options = resolveParserOptions(options);
  }

  /** Bytes buffered so far (for a caller that wants to account them). */
  get bufferedBytes(): number {
    return this.length;
  }

  /** Whether a full signature has arrived, so the bytes are a header in progress. */
  get headerStarted(): boolean {
    return this.version !== undefined;
  }

  /**
   * Give up waiting (timeout or end of stream before a decision): returns the bytes
   * buffered so far and finishes the parser. Callers check `headerStarted` first,
   * because bytes of a started header must not be forwarded as stream data.
   */
  takeBuffered(): Buffer {
    if (this.finished) {
      throw new IdentityError('PARSER_FINISHED', 'PROXY header parser already finished');
    }
    const all = this.length === 0 ? Buffer.alloc(0) : this.all();
    this.finished = true;
    this.chunks.length = 0;
    return all;
  }

  /** Feed the next chunk. Throws `PARSER_FINISHED` if called after `done` or `error`. */
  push(chunk: Buffer): ProxyParseResult {
    if (this.finished) {
      throw new IdentityError('PARSER_FINISHED', 'PROXY header parser already finished');
    }
    if (chunk.length === 0) return { state: 'need-more' };
    this.chunks.push(chunk);
    this.length += chunk.length;
    const result = this.step();
    if (result.state !== 'need-more') {
      this.finished = true;
      this.chunks.length = 0;
    }
    return result;
  }

  private step(): ProxyParseResult {
    if (this.version === undefined) {
      const detected = detectVersion(this.prefix(PROXY_V2_SIGNATURE.length));
      if (detected === 'missing') {
        return {
          state: 'error',
          code: 'missing',
          reason: 'no PROXY header signature',
          received: this.all(),
        };
      }
      if (detected === 'unknown') return { state: 'need-more' };
      this.version = detected;
    }
    if (this.version === 1) {
      // One byte more than the limit, so a CR at the limit can be told from CRLF.
      const result = parseProxyV1(this.prefix(PROXY_V1_MAX_BYTES + 1));
      if (result.state === 'need-more') return result;
      if (result.state === 'error') return this.malformed(result.reason);
      return { state: 'done', header: result.header, rest: this.all().subarray(result.length) };
    }
    const total = proxyV2Length(this.prefix(PROXY_V2_FIXED_BYTES));
    if (total === undefined) return { state: 'need-more' };
    if (total > this.options.maxHeaderBytes) {
      return this.malformed(`v2: header of ${total} bytes exceeds ${this.options.maxHeaderBytes}`);
    }
    if (this.length < total) return { state: 'need-more' };
    const all = this.all();
    const result = parseProxyV2(all, this.options);
    if (result.state === 'need-more') return this.malformed('v2: incomplete header');
    if (result.state === 'error') return this.malformed(result.reason);
    return { state: 'done', header: result.header, rest: all.subarray(result.length) };
  }

  private malformed(reason: string): ProxyParseError {
    return { state: 'error', code: 'malformed', reason, received: this.all() };
  }

  /** Up to `n` leading bytes, copying only those (chunks can be large). */
  private prefix(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    const wanted = Math.min(n, this.length);
    const out = Buffer.allocUnsafe(wanted);
    let offset = 0;
    for (const chunk of this.chunks) {
      if (offset >= wanted) break;
      offset += chunk.copy(out, offset, 0, Math.min(chunk.length, wanted - offset));
    }
    return out;
  }

  private all(): Buffer {
    if (this.chunks.length === 1 && this.chunks[0]) return this.chunks[0];
    const all = Buffer.concat(this.chunks, this.length);
    this.chunks.length = 0;
    this.chunks.push(all);
    return all;
  }
}

/**
 * Which header the leading bytes start: 1 or 2 once a full signature is present,
 * `unknown` while they are still a prefix of one, `missing` when they match neither.
 */
export function detectVersion(head: Buffer): 1 | 2 | 'unknown' | 'missing' {
  const v1 = matchesPrefix(head, PROXY_V1_PREFIX);
  const v2 = matchesPrefix(head, PROXY_V2_SIGNATURE);
  if (v1 && head.length >= PROXY_V1_PREFIX.length) return 1;
  if (v2 && head.length >= PROXY_V2_SIGNATURE.length) return 2;
  return v1 || v2 ? 'unknown' : 'missing';
}

function matchesPrefix(head: Buffer, signature: Buffer): boolean {
  const n = Math.min(head.length, signature.length);
  return head.subarray(0, n).equals(signature.subarray(0, n));
}

/** One-shot parse of a buffer that holds the start of a stream. */
export function parseProxyHeader(
  buffer: Buffer,
  options: ProxyParserOptions = {},
): ProxyParseResult {
  if (buffer.length === 0) return { state: 'need-more' };
  return new ProxyHeaderParser(options).push(buffer);
}

export type DatagramParseResult =
  | { readonly header: ProxyHeader; readonly payload: Buffer }
  | { readonly error: string; readonly code: 'missing' | 'malformed' };

/**
 * PROXY protocol on a datagram transport: every datagram starts with a complete v2
 * header (v1 is stream-only) whose family is UDP over IPv4/IPv6 (or UNSPEC, or the
 * LOCAL command); the payload follows it in the same datagram. A header split across
 * datagrams is malformed.
 */
export function parseDatagramHeader(
  datagram: Buffer,
  options: ProxyParserOptions | ResolvedParserOptions = {},
): DatagramParseResult {
  if (!matchesPrefix(datagram, PROXY_V2_SIGNATURE) || datagram.length < PROXY_V2_SIGNATURE.length) {
    return { code: 'missing', error: 'no PROXY v2 signature' };
  }
  const resolved = resolveParserOptions(options);
  const result = parseProxyV2(datagram, resolved, true);
  if (result.state === 'need-more') return { code: 'malformed', error: 'v2: truncated header' };
  if (result.state === 'error') return { code: 'malformed', error: result.reason };
  return { header: result.header, payload: datagram.subarray(result.length) };
}
