import { AgentError } from '../errors.js';

/**
 * Helpers that read one value of a raw (YAML/env/flag) config tree and fail with an
 * error naming its key: `resources[1].listen: expected host:port, got "x"`. `sources`
 * maps a key to where an override came from, so the error names the env var or flag.
 */
export class ConfigReader {
  constructor(private readonly sources: ReadonlyMap<string, string> = new Map()) {}

  fail(path: string, message: string): never {
    // `nats.servers[0]` came from wherever `nats.servers` came from.
    const source = this.sources.get(path) ?? this.sources.get(path.replace(/\[\d+\]$/, ''));
    const suffix = source === undefined ? '' : ` (from ${source})`;
    throw new AgentError('CONFIG_INVALID', `${path}: ${message}${suffix}`);
  }

  /** A mapping with only the `allowed` keys (unknown keys are errors). */
  object(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path === '' ? '(root)' : path, `expected a mapping, got ${show(value)}`);
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!allowed.includes(key)) {
        this.fail(join(path, key), `unknown key (known keys: ${allowed.join(', ')})`);
      }
    }
    return record;
  }

  /** `secret` keeps the offending value out of the message (passwords, tokens). */
  string(value: unknown, path: string, secret = false): string {
    if (typeof value !== 'string') {
      this.fail(path, secret ? 'expected a string' : `expected a string, got ${show(value)}`);
    }
    return value;
  }

  optionalString(value: unknown, path: string, secret = false): string | undefined {
    if (value === undefined || value === null) return undefined;
    const text = this.string(value, path, secret);
    return text === '' ? undefined : text;
  }

  stringOr(value: unknown, path: string, fallback: string): string {
    return value === undefined || value === null ? fallback : this.string(value, path);
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], fallback: T): T {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(path, `expected one of ${allowed.join(', ')}, got ${show(value)}`);
    }
    return value as T;
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    // Env vars and flags arrive as text.
    if (value === 'true' || value === 'false') return value === 'true';
    this.fail(path, `expected true or false, got ${show(value)}`);
  }

  integer(value: unknown, path: string, min: number, max: number, fallback: number): number {
    if (value === undefined || value === null) return fallback;
    let number: number | undefined;
    if (typeof value === 'number') number = value;
    else if (typeof value === 'string' && /^\d+$/.test(value.trim())) number = Number(value);
    if (number === undefined || !Number.isSafeInteger(number)) {
      this.fail(path, `expected an integer, got ${show(value)}`);
    }
    return this.range(number, path, min, max, String(number));
  }

  /** `parse` is `parseDuration` or `parseSize`; `unit` names the accepted forms. */
  measure(
    value: unknown,
    path: string,
    parse: (raw: unknown) => number | undefined,
    expected: string,
    bounds: { min: number; max: number },
    fallback: number,
  ): number {
    if (value === undefined || value === null) return fallback;
    const parsed = parse(value);
    if (parsed === undefined) this.fail(path, `expected ${expected}, got ${show(value)}`);
    return this.range(parsed, path, bounds.min, bounds.max, show(value));
  }

  private range(value: number, path: string, min: number, max: number, shown: string): number {
    if (value < min || value > max) {
      this.fail(path, `must be between ${min} and ${max}, got ${shown}`);
    }
    return value;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `expected a list, got ${show(value)}`);
    return value as unknown[];
  }
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** A short rendering of an offending value for an error message (never huge). */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
