import { Option } from 'commander';
import type { Command } from 'commander';

/**
 * `connlog-collector sql "<query>"`: send one statement to a running collector's
 * read-only SQL endpoint and print the result. Exit status 1 with the server's
 * error text on failure (the exit itself is left to cli.ts: `process.exitCode`).
 */

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface SqlCommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface SqlRunOptions {
  url: string;
  /** API key, sent as `Authorization: Bearer` (the endpoint needs a key scoped to all orgs). */
  apiKey?: string;
  query: string;
  format: string;
  params?: Record<string, string>;
}

async function write(stream: NodeJS.WritableStream, chunk: Uint8Array | string): Promise<void> {
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve) => stream.once('drain', resolve));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** POST the statement to `<url>/sql`, stream the result to `io.stdout`; resolves to the exit code. */
export async function runSqlQuery(
  options: SqlRunOptions,
  io: Pick<SqlCommandIo, 'stdout' | 'stderr'>,
): Promise<number> {
  let endpoint: URL;
  try {
    endpoint = new URL(options.url);
  } catch {
    await write(io.stderr, `--url: "${options.url}" is not a URL (e.g. ${DEFAULT_URL})\n`);
    return 2;
  }
  endpoint.pathname = `${endpoint.pathname.replace(/\/+$/, '')}/sql`;
  endpoint.searchParams.set('default_format', options.format);
  for (const [name, value] of Object.entries(options.params ?? {})) {
    endpoint.searchParams.set(`param_${name}`, value);
  }
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      body: options.query,
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
    });
  } catch (err) {
    const reason =
      err instanceof Error
        ? err.cause instanceof Error
          ? err.cause.message
          : err.message
        : String(err);
    await write(io.stderr, `cannot reach the collector at ${options.url}: ${reason}\n`);
    return 1;
  }
  if (!response.ok) {
    const text = await response.text();
    await write(io.stderr, text.endsWith('\n') ? text : `${text}\n`);
    return 1;
  }
  if (response.body) {
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        await write(io.stdout, chunk);
      }
    } catch (err) {
      // The server cuts the connection when the query fails mid-result; the error
      // text is then the last thing written to stdout.
      const reason = err instanceof Error ? err.message : String(err);
      await write(io.stderr, `\nthe result was cut off (${reason}); it is incomplete\n`);
      return 1;
    }
  }
  return 0;
}

const EXAMPLES = `
Examples:
  $ connlog-collector sql "SELECT count() FROM connlog.network_logs"
  $ connlog-collector sql "SELECT user_id, sum(bytes_tx + bytes_rx) AS bytes
      FROM connlog.network_logs WHERE started_at > now() - INTERVAL 1 DAY
      GROUP BY user_id ORDER BY bytes DESC LIMIT 10"
  $ connlog-collector sql --format CSVWithNames "SELECT * FROM connlog.network_logs LIMIT 100" > out.csv
  $ connlog-collector sql --param org=acme \\
      "SELECT count() FROM connlog.network_logs WHERE org_id = {org:String}"
  $ echo "SHOW TABLES FROM connlog" | connlog-collector sql -

The endpoint is read-only: INSERT, DDL, SET and friends are refused. With API keys
enabled it needs a key scoped to all orgs: --api-key or CONNLOG_API_KEY.
`;

function collectParam(
  value: string,
  previous: Record<string, string> | undefined,
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--param: "${value}" is not name=value`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Register `sql` on the collector's commander program. */
export function registerSqlCommand(
  program: Command,
  io: SqlCommandIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): void {
  program
    .command('sql')
    .description("run a read-only SQL statement on a running collector's /sql endpoint")
    .argument('[query]', 'the statement; "-" or nothing reads it from stdin')
    .addOption(
      new Option('--url <url>', 'collector base URL').env('CONNLOG_URL').default(DEFAULT_URL),
    )
    .addOption(
      new Option(
        '--api-key <key>',
        'API key scoped to all orgs (clk_…); prefer the environment variable',
      ).env('CONNLOG_API_KEY'),
    )
    .addOption(
      new Option(
        '-f, --format <format>',
        'ClickHouse output format (default: PrettyCompactMonoBlock on a terminal, TabSeparated otherwise)',
      ),
    )
    .option(
      '-p, --param <name=value>',
      'value of a {name:Type} query parameter (repeatable)',
      collectParam,
    )
    .addHelpText('after', EXAMPLES)
    .action(
      async (
        query: string | undefined,
        opts: { url: string; apiKey?: string; format?: string; param?: Record<string, string> },
      ) => {
        let statement = query;
        if (statement === undefined || statement === '-') {
          if (io.stdin.isTTY) {
            await write(io.stderr, 'no query: pass it as an argument or on stdin (see --help)\n');
            process.exitCode = 2;
            return;
          }
          statement = await readAll(io.stdin);
        }
        const format = opts.format ?? (io.stdout.isTTY ? 'PrettyCompactMonoBlock' : 'TabSeparated');
        const code = await runSqlQuery(
          {
            url: opts.url,
            query: statement,
            format,
            params: opts.param ?? {},
            ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
          },
          io,
        );
        if (code !== 0) process.exitCode = code;
      },
    );
}
