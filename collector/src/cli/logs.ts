import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { apiGet, apiUrl, expectOk } from './client.js';
import { formatItem, header, parseFormat } from './format.js';
import type { Format, Item } from './format.js';
import { write } from './io.js';
import type { CliIo } from './io.js';
import { addConnectionOptions, addFilterOptions, filterParams } from './options.js';
import type { ConnectionFlags, FilterFlags } from './options.js';

/**
 * `connlog-collector logs`: sessions of an org, newest first, through the REST list
 * route, following `nextCursor` until `--limit` sessions are printed.
 */

export type LogsFlags = ConnectionFlags & FilterFlags & { format: Format; limit: number };

/** The API's page size bound. */
const PAGE_MAX = 1000;
const LIMIT_MAX = 1_000_000;

function parseLimit(value: string): number {
  const n = /^\d{1,7}$/.test(value) ? Number(value) : 0;
  if (n < 1 || n > LIMIT_MAX) throw new InvalidArgumentError(`must be 1-${LIMIT_MAX}`);
  return n;
}

interface Page {
  items: Item[];
  nextCursor: string | null;
}

export async function runLogs(flags: LogsFlags, io: CliIo): Promise<void> {
  const filters = filterParams(flags);
  let remaining = flags.limit;
  let cursor: string | null = null;
  let printed = 0;
  do {
    const search = new URLSearchParams(filters);
    search.set('limit', String(Math.min(PAGE_MAX, remaining)));
    if (cursor !== null) search.set('cursor', cursor);
    const response = await apiGet(flags, apiUrl(flags, 'network-logs', search), io.signal);
    await expectOk(response);
    const page = (await response.json()) as Page;
    if (printed === 0 && page.items.length > 0) await write(io.stdout, header(flags.format));
    for (const item of page.items) await write(io.stdout, formatItem(flags.format, item));
    printed += page.items.length;
    remaining -= page.items.length;
    cursor = page.nextCursor;
  } while (cursor !== null && remaining > 0 && !io.signal?.aborted);
  if (printed === 0) {
    if (flags.format === 'csv') await write(io.stdout, header('csv'));
    await write(io.stderr, 'no sessions match (the default window is the last 24 hours: --from)\n');
  } else if (cursor !== null) {
    await write(
      io.stderr,
      `${printed} sessions shown; more match: raise --limit, narrow the filters, or use export\n`,
    );
  }
}

const EXAMPLES = `
Examples:
  $ connlog-collector logs --org acme
  $ connlog-collector logs --org acme --user alice --protocol tcp --from 2024-05-01T00:00:00Z
  $ connlog-collector logs --org acme --site berlin --site paris --status ongoing --limit 500
  $ connlog-collector logs --org acme --dest 10.0.0.0/8 --dest-port 5432 --format json | jq .user_id
  $ CONNLOG_API_KEY=clk_… connlog-collector logs --org acme --close-reason dial_failed --format csv

Filters combine with AND; a repeated flag matches any of its values. Without --from,
the last 24 hours. Sessions are printed newest first.
`;

export function registerLogs(
  program: Command,
  io: CliIo,
  run: (fn: () => Promise<void>) => Promise<void>,
): void {
  const command = program
    .command('logs')
    .description("print an org's network logs (sessions), newest first, from a running collector");
  addConnectionOptions(command);
  addFilterOptions(command);
  command
    .option('-f, --format <format>', 'table, json (one item per line) or csv', parseFormat, 'table')
    .option('-n, --limit <n>', `sessions to print at most (1-${LIMIT_MAX})`, parseLimit, 100)
    .addHelpText('after', EXAMPLES)
    .action((flags: LogsFlags) => run(() => runLogs(flags, io)));
}
