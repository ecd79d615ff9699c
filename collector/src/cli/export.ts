import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { CliError, apiGet, apiUrl, expectOk } from './client.js';
import { humanBytes } from './format.js';
import { write } from './io.js';
import type { CliIo } from './io.js';
import { addConnectionOptions, addFilterOptions, filterParams } from './options.js';
import type { ConnectionFlags, FilterFlags } from './options.js';

/**
 * `connlog-collector export -o file.csv`: the CSV export route streamed to a file with
 * constant memory. It is written to `<file>.partial` and renamed when complete, so a
 * cut-off export never sits under the name of a finished one. Progress (rows, bytes)
 * goes to stderr.
 */

export type ExportFlags = ConnectionFlags & FilterFlags & { output: string };

/** How often the progress line is redrawn on a terminal. */
const PROGRESS_MS = 500;

/**
 * Counts CSV records as they stream: a record ends at a LF outside quotes (quoted
 * fields may hold line breaks; `""` toggles twice and so changes nothing).
 */
export class CsvCounter extends Transform {
  records = 0;
  bytes = 0;
  private quoted = false;

  override _transform(
    chunk: Buffer,
    _encoding: string,
    done: (err?: Error | null, data?: Buffer) => void,
  ): void {
    this.bytes += chunk.length;
    for (const byte of chunk) {
      if (byte === 0x22) this.quoted = !this.quoted;
      else if (byte === 0x0a && !this.quoted) this.records += 1;
    }
    done(null, chunk);
  }

  /** Data rows so far (the first record is the header). */
  get rows(): number {
    return Math.max(0, this.records - 1);
  }
}

export async function runExport(flags: ExportFlags, io: CliIo): Promise<void> {
  const url = apiUrl(flags, 'network-logs/export', filterParams(flags));
  const response = await apiGet(flags, url, io.signal);
  await expectOk(response);
  if (!response.body) throw new CliError('the collector sent no body');
  const toStdout = flags.output === '-';
  const partial = `${flags.output}.partial`;
  const counter = new CsvCounter();
  const progress = (end: string): void => {
    io.stderr.write(`\rexported ${counter.rows} rows, ${humanBytes(counter.bytes)}B${end}`);
  };
  const timer = io.stderr.isTTY ? setInterval(() => progress(''), PROGRESS_MS) : undefined;
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      counter,
      toStdout ? io.stdout : createWriteStream(partial),
      ...(io.signal ? [{ signal: io.signal }] : []),
    );
  } catch (err) {
    if (!toStdout) await rm(partial, { force: true });
    const reason = err instanceof Error ? err.message : String(err);
    throw new CliError(
      `the export was cut off after ${counter.rows} rows (${reason}); ${toStdout ? 'the output is incomplete' : `${flags.output} was not written`}`,
    );
  } finally {
    if (timer) clearInterval(timer);
  }
  if (!toStdout) await rename(partial, flags.output);
  if (io.stderr.isTTY) progress('\n');
  await write(
    io.stderr,
    `exported ${counter.rows} rows (${counter.bytes} bytes)${toStdout ? '' : ` to ${flags.output}`}\n`,
  );
}

const EXAMPLES = `
Examples:
  $ connlog-collector export --org acme -o acme-may.csv --from 2024-05-01T00:00:00Z --to 2024-06-01T00:00:00Z
  $ connlog-collector export --org acme --user alice --protocol tcp -o alice.csv
  $ connlog-collector export --org acme --dest 10.0.0.0/8 -o - | head

The file is written as <file>.partial and renamed when the export is complete.
Columns are those of the REST API items; without --from, the last 24 hours.
`;

export function registerExport(
  program: Command,
  io: CliIo,
  run: (fn: () => Promise<void>) => Promise<void>,
): void {
  const command = program
    .command('export')
    .description("stream an org's network logs as CSV into a file, with progress on stderr");
  addConnectionOptions(command);
  addFilterOptions(command);
  command
    .requiredOption('-o, --output <file>', 'CSV file to write ("-" for stdout)')
    .addHelpText('after', EXAMPLES)
    .action((flags: ExportFlags) => run(() => runExport(flags, io)));
}
