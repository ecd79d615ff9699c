/**
 * `connlog-collector` command line. The only place that exits the process: commands
 * resolve or throw, and `main` turns the outcome into an exit code.
 */
import { Command } from 'commander';
import type { Logger } from 'pino';
import { registerSqlCommand } from './cli/sql.js';
import { createCollector } from './collector.js';
import { loadConfig } from './config.js';
import { CollectorError } from './errors.js';
import { createLogger } from './log.js';

interface RunFlags {
  config?: string;
  set: string[];
  nats?: string;
  dataDir?: string;
  clickhouseUrl?: string;
  httpListen?: string;
  logLevel?: string;
}

/** Named flags are shorthands for `--set key=value`. */
function overrides(flags: RunFlags): string[] {
  const out = [...flags.set];
  if (flags.nats !== undefined) out.push(`nats.servers=${flags.nats}`);
  if (flags.dataDir !== undefined) out.push(`dataDir=${flags.dataDir}`);
  if (flags.clickhouseUrl !== undefined) out.push(`clickhouse.url=${flags.clickhouseUrl}`);
  if (flags.httpListen !== undefined) out.push(`http.listen=${flags.httpListen}`);
  if (flags.logLevel !== undefined) out.push(`log.level=${flags.logLevel}`);
  return out;
}

/** Run until SIGTERM or SIGINT, then close cleanly. */
async function run(flags: RunFlags): Promise<void> {
  const config = loadConfig(flags.config, process.env, overrides(flags));
  const log: Logger = createLogger(config.log.level);
  const collector = createCollector(config, { log });
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  await collector.start();
  const signal = await stopped;
  log.info({ signal }, 'stopping');
  await collector.close();
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(): Command {
  const program = new Command('connlog-collector')
    .description('connlog collector: NATS JetStream to ClickHouse, REST API')
    .showHelpAfterError();
  program
    .command('run')
    .description('consume session events and serve the API until SIGTERM/SIGINT')
    .option('-c, --config <file>', 'YAML config file')
    .option(
      '--set <key=value>',
      'override a config key, e.g. ingest.maxBatchRows=5000 (repeatable)',
      collect,
      [],
    )
    .option('--nats <urls>', 'NATS server URLs, comma-separated (nats.servers)')
    .option('--data-dir <dir>', 'data directory (dataDir)')
    .option(
      '--clickhouse-url <url>',
      'ClickHouse HTTP URL instead of the embedded engine (clickhouse.url)',
    )
    .option('--http-listen <host:port>', 'API listen address (http.listen)')
    .option('--log-level <level>', 'log level (log.level)')
    .action(async (flags: RunFlags) => {
      await run(flags);
    });
  registerSqlCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
    process.exit(0);
  } catch (err) {
    if (err instanceof CollectorError) {
      process.stderr.write(`connlog-collector: ${err.message} (${err.code})\n`);
    } else {
      process.stderr.write(
        `connlog-collector: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exit(1);
  }
}
