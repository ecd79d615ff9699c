import { flagOf } from './options.js';
import type { ConnectionFlags } from './options.js';

/**
 * HTTP against a running collector for the CLI: URLs under `--url`, the API key as
 * `Authorization: Bearer`, and the API's JSON errors turned into one line a person
 * can act on (the flag that was wrong, what to do about a 401).
 */

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** Process exit status: 2 for bad usage, 1 for everything else. */
    readonly exitCode: number = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `<url>/api/v1/orgs/<org>/<rest>?<search>`. */
export function apiUrl(flags: ConnectionFlags, rest: string, search?: URLSearchParams): URL {
  let url: URL;
  try {
    url = new URL(flags.url);
  } catch {
    throw new CliError(`--url: "${flags.url}" is not a URL (e.g. http://127.0.0.1:8080)`, 2);
  }
  const base = url.pathname.replace(/\/+$/, '');
  url.pathname = `${base}/api/v1/orgs/${encodeURIComponent(flags.org)}/${rest}`;
  url.search = search?.toString() ?? '';
  return url;
}

export function authHeaders(flags: Pick<ConnectionFlags, 'apiKey'>): Record<string, string> {
  return flags.apiKey ? { authorization: `Bearer ${flags.apiKey}` } : {};
}

function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error ? err.cause.message : err.message;
  return String(err);
}

/** GET with the API key; a network failure becomes a CliError naming the URL. */
export async function apiGet(
  flags: ConnectionFlags,
  url: URL,
  signal?: AbortSignal,
): Promise<Response> {
  try {
    return await fetch(url, { headers: authHeaders(flags), ...(signal ? { signal } : {}) });
  } catch (err) {
    throw new CliError(`cannot reach the collector at ${flags.url}: ${reasonOf(err)}`, 1, {
      cause: err,
    });
  }
}

interface ApiErrorBody {
  error?: { code?: string; message?: string; param?: string };
}

/** One line for an API error answer (JSON `{error}` or anything else). */
export function describeError(status: number, text: string): string {
  let body: ApiErrorBody | undefined;
  try {
    body = JSON.parse(text) as ApiErrorBody;
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (!error?.code) return `the collector answered ${status}: ${text.slice(0, 500).trim()}`;
  const flag = error.param !== undefined ? flagOf(error.param) : undefined;
  let line = `${error.message ?? error.code} (${error.code}${flag ? `, ${flag}` : ''})`;
  if (status === 401) line += '; pass --api-key or set CONNLOG_API_KEY';
  return line;
}

/** Throws a CliError for a non-2xx response. */
export async function expectOk(response: Response): Promise<void> {
  if (response.ok) return;
  throw new CliError(describeError(response.status, await response.text()));
}
