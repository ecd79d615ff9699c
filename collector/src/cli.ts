/**
 * `connlog-collector` command line. The only place that exits the process: commands
 * resolve, throw, or set `process.exitCode`, and `main` turns that into the exit.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or usage.
 */
import { Command, CommanderError } from 'commander';
import { registerSqlCommand } from './cli/sql.js';
import { createCollector } from './collector.js';
import { loadConfig, type CollectorConfig } from './config.js';
import { CollectorError } from './errors.js';
import { createLogger } from './log.js';

const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;

interface ConfigFlags {
  config?: string;
  set: string[];
  nats?: string;
  dataDir?: string;
  clickhouseUrl?: string;
  httpListen?: string;
  logLevel?: string;
}

/** Thrown to leave `main` with a given exit code after the message was printed. */
class Exit extends Error {
  override readonly name = 'Exit';

  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Named flags are shorthands for `--set key=value`. */
function overrides(flags: ConfigFlags): string[] {
  const out = [...flags.set];
  if (flags.nats !== undefined) out.push(`nats.servers=${flags.nats}`);
  if (flags.dataDir !== undefined) out.push(`dataDir=${flags.dataDir}`);
  if (flags.clickhouseUrl !== undefined) out.push(`clickhouse.url=${flags.clickhouseUrl}`);
  if (flags.httpListen !== undefined) out.push(`http.listen=${flags.httpListen}`);
  if (flags.logLevel !== undefined) out.push(`log.level=${flags.logLevel}`);
  return out;
}

function configOrExit(flags: ConfigFlags): CollectorConfig {
  try {
    return loadConfig(flags.config, process.env, overrides(flags));
  } catch (err) {
    process.stderr.write(`connlog-collector: invalid config: ${describe(err)}\n`);
    throw new Exit(err instanceof CollectorError ? EXIT_CONFIG : EXIT_FAILURE);
  }
}

/** Run until SIGTERM or SIGINT, then close cleanly; a second signal exits at once. */
async function run(flags: ConfigFlags): Promise<void> {
  const config = configOrExit(flags);
  const log = createLogger(config.log.level);
  const collector = createCollector(config, { log });
  let signalled: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    signalled = resolve;
  });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    signalled(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await collector.start();
  } catch (err) {
    log.fatal(
      { err: describe(err), code: err instanceof CollectorError ? err.code : undefined },
      'collector failed to start',
    );
    await collector.close().catch(() => undefined);
    throw new Exit(EXIT_FAILURE);
  }
  const signal = await stopped;
  log.info({ signal }, 'stopping');
  await collector.close();
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function withConfigFlags(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML config file')
    .option(
      '--set <key=value>',
      'override a config key, e.g. ingest.maxBatchRows=5000 (repeatable)',
      collect,
      [],
    )
    .option('--nats <urls>', 'NATS server URLs, comma-separated (nats.servers)')
    .option('--data-dir <dir>', 'data directory (dataDir)')
    .option('--clickhouse-url <url>', 'ClickHouse HTTP URL instead of the embedded engine')
    .option('--http-listen <host:port>', 'API listen address (http.listen)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent');
}

export function buildProgram(): Command {
  const program = new Command('connlog-collector')
    .description('connlog collector: NATS JetStream to ClickHouse, REST API')
    .exitOverride()
    .showHelpAfterError();
  withConfigFlags(program.command('run'))
    .description('consume session events and serve the API until SIGTERM/SIGINT')
    .action(async (flags: ConfigFlags) => run(flags));
  withConfigFlags(program.command('check'))
    .description('validate the config and print it (secrets redacted)')
    .action((flags: ConfigFlags) => {
      const config = configOrExit(flags);
      const shown = {
        ...config,
        nats: {
          ...config.nats,
          pass: config.nats.pass === undefined ? undefined : '[redacted]',
          token: config.nats.token === undefined ? undefined : '[redacted]',
        },
        clickhouse: { ...config.clickhouse, password: '[redacted]' },
      };
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    });
  registerSqlCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof Exit) process.exit(err.code);
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG);
    process.stderr.write(`connlog-collector: ${describe(err)}\n`);
    process.exit(EXIT_FAILURE);
  }
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}
