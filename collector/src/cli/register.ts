import type { Command } from 'commander';
import { CliError } from './client.js';
import { registerExport } from './export.js';
import { processIo, write } from './io.js';
import type { CliIo } from './io.js';
import { registerLogs } from './logs.js';
import { registerTail } from './tail.js';

/**
 * Register `logs`, `export` and `tail` on the collector's program. A failure is one
 * line on stderr and `process.exitCode` (1, or 2 for bad usage); the exit itself is
 * left to cli.ts.
 */
export function registerLogsCommands(program: Command, io: CliIo = processIo()): void {
  const run = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      await write(io.stderr, `connlog-collector ${name}: ${err.message}\n`);
      process.exitCode = err.exitCode;
    }
  };
  registerLogs(program, io, (fn) => run('logs', fn));
  registerExport(program, io, (fn) => run('export', fn));
  registerTail(program, io, (fn) => run('tail', fn));
}
