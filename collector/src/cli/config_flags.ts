/**
 * What every `connlog-collector` command that reads the collector's config shares:
 * the config flags, loading with exit code 2 on a bad config, and the `CliExit`
 * that carries an exit code back to `main` after the message was printed.
 */
import type { Command } from 'commander';
import { loadConfig, type CollectorConfig } from '../config.js';
import { CollectorError } from '../errors.js';

export const EXIT_FAILURE = 1;
/** Bad config or usage. */
export const EXIT_USAGE = 2;

/** Thrown to leave `main` with a given exit code after the message was printed. */
export class CliExit extends Error {
  override readonly name = 'CliExit';

  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Carry a command's exit code back to `main`: 0 returns, anything else throws `CliExit`. */
export async function exitWith(code: Promise<number>): Promise<void> {
  const exit = await code;
  if (exit !== 0) throw new CliExit(exit);
}

export interface ConfigFlags {
  config?: string;
  set: string[];
  nats?: string;
  dataDir?: string;
  clickhouseUrl?: string;
  httpListen?: string;
  logLevel?: string;
}

export function describeError(err: unknown): string {
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

/** The config, or a message on stderr and CliExit(2) (1 if it is not a config error). */
export function configOrExit(flags: ConfigFlags): CollectorConfig {
  try {
    return loadConfig(flags.config, process.env, overrides(flags));
  } catch (err) {
    process.stderr.write(`connlog-collector: invalid config: ${describeError(err)}\n`);
    throw new CliExit(err instanceof CollectorError ? EXIT_USAGE : EXIT_FAILURE);
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The full set of config flags (`run`, `check`). */
export function withConfigFlags(command: Command): Command {
  return withNatsConfigFlags(command)
    .option('--data-dir <dir>', 'data directory (dataDir)')
    .option('--clickhouse-url <url>', 'ClickHouse HTTP URL instead of the embedded engine')
    .option('--http-listen <host:port>', 'API listen address (http.listen)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent');
}

/** The flags a command that only talks to NATS (KV, the admin relay) needs. */
export function withNatsConfigFlags(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML config file (the collector\u2019s)')
    .option(
      '--set <key=value>',
      'override a config key, e.g. ingest.maxBatchRows=5000 (repeatable)',
      collect,
      [],
    )
    .option('--nats <urls>', 'NATS server URLs, comma-separated (nats.servers)');
}
