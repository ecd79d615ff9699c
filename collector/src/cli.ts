/**
 * `connlog-collector` command line. The only place that exits the process: commands
 * resolve, throw, or set `process.exitCode`, and `main` turns that into the exit.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or usage.
 */
import { Command, CommanderError } from 'commander';
import { registerAdminLogCommand } from './cli/admin_log.js';
import { registerApikeyCommand } from './cli/apikey.js';
import {
  CliExit,
  EXIT_FAILURE,
  EXIT_USAGE,
  configOrExit,
  describeError as describe,
  withConfigFlags,
  type ConfigFlags,
} from './cli/config_flags.js';
import { registerLogsCommands } from './cli/register.js';
import { registerRetentionCommand } from './cli/retention.js';
import { registerSqlCommand } from './cli/sql.js';
import { createCollector } from './collector.js';
import { renderDdl } from './store/ddl.js';
import { CollectorError } from './errors.js';
import { createLogger } from './log.js';

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
    throw new CliExit(EXIT_FAILURE);
  }
  const signal = await stopped;
  log.info({ signal }, 'stopping');
  await collector.close();
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
  program
    .command('schema')
    .description('print the ClickHouse DDL the collector applies (for review by DBAs)')
    .option('--database <name>', 'database name', 'connlog')
    .option('--cluster <name>', 'render for a cluster: ON CLUSTER, Replicated*, Distributed')
    .addHelpText(
      'after',
      '\nExamples:\n  connlog-collector schema > connlog.sql\n  connlog-collector schema --cluster prod',
    )
    .action((opts: { database: string; cluster?: string }) => {
      process.stdout.write(renderDdl(opts));
    });
  registerSqlCommand(program);
  registerLogsCommands(program);
  registerApikeyCommand(program);
  registerRetentionCommand(program);
  registerAdminLogCommand(program);
  return program;
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) {
      resolve();
      return;
    }
    // Writes complete in order: this one's callback means every earlier one is out.
    stream.write('', () => resolve());
  });
}

/** Exit with `code` once stdout and stderr are flushed (a pipe may still hold output). */
async function exit(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** The code a command left in `process.exitCode` (sql sets it), else 0. */
function exitCodeSet(): number {
  const code = Number(process.exitCode ?? 0);
  return Number.isInteger(code) ? code : EXIT_FAILURE;
}

export async function main(argv: readonly string[]): Promise<void> {
  // A reader that goes away (`| head`) is not an error of ours: stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(exitCodeSet());
    throw err;
  });
  let code: number;
  try {
    await buildProgram().parseAsync([...argv]);
    code = exitCodeSet();
  } catch (err) {
    if (err instanceof CliExit) code = err.code;
    else if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : EXIT_USAGE;
    else {
      process.stderr.write(`connlog-collector: ${describe(err)}\n`);
      code = EXIT_FAILURE;
    }
    // Never report success over a code a command already set.
    if (code === 0) code = exitCodeSet();
  }
  await exit(code);
}
