import { Command, CommanderError } from 'commander';
import { createAgent } from './agent.js';
import { loadConfig, type ConfigFlags } from './config/load.js';
import { AgentError, describeError } from './errors.js';
import { createLogger } from './log.js';
import { runWorker } from './workers/worker_main.js';
import { AGENT_VERSION } from './version.js';

interface RunOptions extends ConfigFlags {
  config: string;
}

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or usage. */
const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;

/** `connlog-agent` entry point; the only place that calls `process.exit`. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('connlog-agent')
    .description('connlog site agent: proxies TCP and UDP sessions and records each one')
    .version(AGENT_VERSION)
    .exitOverride();
  const withConfigFlags = (command: Command): Command =>
    command
      .requiredOption('-c, --config <file>', 'YAML config file')
      .option('--org <id>', 'organisation id (overrides org)')
      .option('--site <id>', 'site id (overrides site)')
      .option('--nats <urls>', 'comma-separated NATS server URLs (overrides nats.servers)')
      .option('--http-listen <host:port>', 'address of /healthz and /metrics, "" disables')
      .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
      .option('--spool-dir <dir>', 'spool directory (overrides spool.dir)');

  withConfigFlags(program.command('run'))
    .description('run the agent until SIGTERM or SIGINT')
    .action(async (options: RunOptions) => run(options));
  withConfigFlags(program.command('check'))
    .description('validate the config and print it (secrets redacted)')
    .action((options: RunOptions) => {
      const config = configOrExit(options);
      const shown = {
        ...config,
        nats: {
          ...config.nats,
          pass: config.nats.pass === undefined ? undefined : '[redacted]',
          token: config.nats.token === undefined ? undefined : '[redacted]',
        },
      };
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    });

  // Started by the agent itself for `workers` > 1 (node:cluster), never by hand.
  program
    .command('worker', { hidden: true })
    .description('a worker process of an agent with workers > 1')
    .action(async () => runWorker());

  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG);
    }
    process.stderr.write(`connlog-agent: ${describeError(err)}\n`);
    process.exit(EXIT_FAILURE);
  }
}

function configOrExit(options: RunOptions) {
  try {
    return loadConfig(options.config, process.env, {
      org: options.org,
      site: options.site,
      nats: options.nats,
      httpListen: options.httpListen,
      logLevel: options.logLevel,
      spoolDir: options.spoolDir,
    });
  } catch (err) {
    process.stderr.write(`connlog-agent: invalid config: ${describeError(err)}\n`);
    process.exit(err instanceof AgentError ? EXIT_CONFIG : EXIT_FAILURE);
  }
}

async function run(options: RunOptions): Promise<void> {
  const config = configOrExit(options);
  const log = createLogger(config.log.level);
  // Workers run with this process's Node.js flags (the shebang's, or an override).
  const agent = createAgent(config, { log, workerNodeArgs: process.execArgv });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    agent.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: describeError(err) }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Installed before start: without a listener, SIGHUP would terminate the process.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading the peer map');
    void agent.reloadPeerMap();
  });
  try {
    await agent.start();
  } catch (err) {
    log.fatal(
      { err: describeError(err), code: err instanceof AgentError ? err.code : undefined },
      'agent failed to start',
    );
    await agent.close().catch(() => undefined);
    process.exit(
      err instanceof AgentError && err.code === 'CONFIG_INVALID' ? EXIT_CONFIG : EXIT_FAILURE,
    );
  }
}
