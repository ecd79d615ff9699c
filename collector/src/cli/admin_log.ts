/**
 * `connlog-collector admin-log`: read the admin action log of a running collector
 * through its REST API (`GET /api/v1/orgs/{org}/admin-actions`, `…/export` for CSV).
 * The log lives in the collector's store, which only the collector reads.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, describeError, exitWith } from './config_flags.js';
import { formatTable, processIo, write, type CliIo } from './io.js';
import { DEFAULT_URL } from './sql.js';

export type AdminLogFormat = 'table' | 'json' | 'csv';

export interface AdminLogOptions {
  url: string;
  apiKey?: string;
  /** One org or `*` (every org; needs a key for every org). */
  org: string;
  from?: string;
  to?: string;
  action?: string[];
  actor?: string[];
  actorType?: string[];
  outcome?: string[];
  /** Rows at most (table, json). */
  limit: number;
  format: AdminLogFormat;
}

interface Entry {
  timestamp: string;
  orgId: string;
  action: string;
  actorType: string;
  actor: string;
  actorId: string;
  outcome: string;
  metadata: Record<string, unknown>;
}

/** Rows asked for per request; the API's maximum. */
const PAGE_LIMIT = 1000;
const METADATA_CHARS = 120;

function endpoint(options: AdminLogOptions, csv: boolean): URL {
  const url = new URL(options.url);
  const base = url.pathname.replace(/\/+$/, '');
  url.pathname = `${base}/api/v1/orgs/${encodeURIComponent(options.org)}/admin-actions${csv ? '/export' : ''}`;
  const add = (name: string, values: readonly string[] | string | undefined): void => {
    for (const value of typeof values === 'string' ? [values] : (values ?? [])) {
      url.searchParams.append(name, value);
    }
  };
  add('from', options.from);
  add('to', options.to);
  add('action', options.action);
  add('actor', options.actor);
  add('actorType', options.actorType);
  add('outcome', options.outcome);
  return url;
}

async function get(url: URL, options: AdminLogOptions): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.apiKey !== undefined && options.apiKey !== '') {
    headers.authorization = `Bearer ${options.apiKey}`;
  }
  return fetch(url, { headers });
}

/** The server's error message, or the status line. */
async function failure(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message !== undefined) {
      return `${response.status} ${body.error.code ?? ''}: ${body.error.message}`;
    }
  } catch {
    // not JSON: show the text
  }
  return `${response.status} ${text.slice(0, 500)}`.trim();
}

function row(entry: Entry): string[] {
  const metadata = JSON.stringify(entry.metadata);
  return [
    entry.timestamp,
    entry.orgId === '' ? '-' : entry.orgId,
    entry.action,
    entry.outcome,
    entry.actorType,
    entry.actorId === '' ? entry.actor : `${entry.actor} (${entry.actorId})`,
    metadata.length > METADATA_CHARS ? `${metadata.slice(0, METADATA_CHARS - 1)}\u2026` : metadata,
  ];
}

/** Resolves to the exit code. */
export async function runAdminLog(options: AdminLogOptions, io: CliIo): Promise<number> {
  let url: URL;
  try {
    url = endpoint(options, options.format === 'csv');
  } catch {
    await write(io.stderr, `--url: "${options.url}" is not a URL (e.g. ${DEFAULT_URL})\n`);
    return EXIT_USAGE;
  }
  try {
    if (options.format === 'csv') {
      const response = await get(url, options);
      if (!response.ok) {
        await write(io.stderr, `${await failure(response)}\n`);
        return EXIT_FAILURE;
      }
      if (response.body) {
        for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
          await write(io.stdout, chunk);
        }
      }
      return 0;
    }
    const entries: Entry[] = [];
    let cursor: string | undefined;
    do {
      const page = new URL(url);
      page.searchParams.set('limit', String(Math.min(PAGE_LIMIT, options.limit - entries.length)));
      if (cursor !== undefined) page.searchParams.set('cursor', cursor);
      const response = await get(page, options);
      if (!response.ok) {
        await write(io.stderr, `${await failure(response)}\n`);
        return EXIT_FAILURE;
      }
      const body = (await response.json()) as { items: Entry[]; nextCursor: string | null };
      entries.push(...body.items);
      cursor = body.nextCursor ?? undefined;
    } while (cursor !== undefined && entries.length < options.limit);
    if (options.format === 'json') {
      for (const entry of entries) await write(io.stdout, `${JSON.stringify(entry)}\n`);
    } else {
      await write(
        io.stdout,
        formatTable(
          ['TIMESTAMP', 'ORG', 'ACTION', 'OUTCOME', 'ACTOR TYPE', 'ACTOR', 'METADATA'],
          entries.map(row),
        ),
      );
    }
    return 0;
  } catch (err) {
    const reason =
      err instanceof Error && err.cause instanceof Error ? err.cause.message : describeError(err);
    await write(io.stderr, `cannot read the admin log at ${options.url}: ${reason}\n`);
    return EXIT_FAILURE;
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function positiveInt(value: string): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : 0;
  if (n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

const EXAMPLES = `
Examples:
  $ connlog-collector admin-log --org acme
  $ connlog-collector admin-log --org acme --outcome denied --from 2030-01-01T00:00:00Z
  $ connlog-collector admin-log --action retention.update --action apikey.create --format json
  $ connlog-collector admin-log --org acme --format csv > admin-actions.csv
  $ CONNLOG_API_KEY=clk_... connlog-collector admin-log --url https://collector:8080 --actor alice

--from is inclusive, --to exclusive (RFC 3339 or unix seconds). Newest first.
--org * (the default) reads every org and needs a key for every org.
--action, --actor, --actor-type and --outcome may be repeated (any of them matches).
The csv format exports every matching row (--limit does not apply).
`;

/** Register `admin-log` on the collector's commander program. */
export function registerAdminLogCommand(program: Command, io: CliIo = processIo()): void {
  program
    .command('admin-log')
    .description("read a running collector's admin action log (REST API)")
    .addOption(
      new Option('--url <url>', 'collector base URL').env('CONNLOG_URL').default(DEFAULT_URL),
    )
    .addOption(new Option('--api-key <key>', 'API key (auditor or admin)').env('CONNLOG_API_KEY'))
    .option('--org <org>', 'org id, or * for every org', '*')
    .option('--from <time>', 'oldest action (inclusive)')
    .option('--to <time>', 'newest action (exclusive)')
    .option('--action <action>', 'e.g. retention.update, apikey.create (repeatable)', collect)
    .option('--actor <actor>', 'actor name or id (repeatable)', collect)
    .addOption(
      new Option('--actor-type <type>', 'user, api_key or cli (repeatable)').argParser(collect),
    )
    .addOption(
      new Option('--outcome <outcome>', 'success, denied or error (repeatable)').argParser(collect),
    )
    .option('--limit <n>', 'rows at most (table, json)', positiveInt, 100)
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['table', 'json', 'csv'])
        .default('table'),
    )
    .addHelpText('after', EXAMPLES)
    .action(async (flags: Omit<AdminLogOptions, 'format'> & { format: AdminLogFormat }) => {
      await exitWith(runAdminLog(flags, io));
    });
}
