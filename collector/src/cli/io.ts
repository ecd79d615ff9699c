/** Where a command writes, and how a test (or Ctrl-C) stops a long-running one. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stops `tail` (and aborts `logs`/`export`). @default SIGINT/SIGTERM of this process */
  signal?: AbortSignal;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr });

/** Write honouring backpressure. */
export async function write(
  stream: NodeJS.WritableStream,
  chunk: Uint8Array | string,
): Promise<void> {
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve) => stream.once('drain', resolve));
}

/** `signal` if given, else one aborted by the first SIGINT or SIGTERM; `done()` unhooks. */
export function stopSignal(given: AbortSignal | undefined): {
  signal: AbortSignal;
  done: () => void;
} {
  if (given) return { signal: given, done: () => undefined };
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    done: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/** Rows under a header, columns padded to their widest cell, two spaces apart. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `${cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()}\n`;
  return line(headers) + rows.map(line).join('');
}
