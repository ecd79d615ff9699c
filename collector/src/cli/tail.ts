import type { Command } from 'commander';
import WebSocket from 'ws';
import { CliError, apiUrl, authHeaders, describeError } from './client.js';
import { formatItem, header, parseFormat } from './format.js';
import type { Format, Item } from './format.js';
import { stopSignal } from './io.js';
import type { CliIo } from './io.js';
import { addConnectionOptions, addFilterOptions, filterParams } from './options.js';
import type { ConnectionFlags, FilterFlags } from './options.js';

/**
 * `connlog-collector tail`: the WebSocket live tail, printed as it arrives until
 * Ctrl-C. When stdout cannot keep up, reading from the socket pauses, so the
 * collector sees a slow consumer (and drops it with 1013) rather than this process
 * buffering without bound.
 */

export type TailFlags = ConnectionFlags & Omit<FilterFlags, 'from' | 'to'> & { format: Format };

interface Message {
  type?: string;
  data?: Item;
  filters?: Record<string, string[]>;
}

function open(ws: WebSocket, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => reject(new CliError(describeError(res.statusCode ?? 0, text))));
    });
    ws.once('error', (err) =>
      reject(
        new CliError(`cannot reach the collector at ${url}: ${err.message}`, 1, { cause: err }),
      ),
    );
  });
}

function describeFilters(filters: Record<string, string[]> | undefined): string {
  const parts = Object.entries(filters ?? {}).map(
    ([name, values]) => `${name}=${values.join(',')}`,
  );
  return parts.length > 0 ? ` where ${parts.join(' ')}` : '';
}

export async function runTail(flags: TailFlags, io: CliIo): Promise<void> {
  const url = apiUrl(flags, 'network-logs/live', filterParams(flags));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, { headers: authHeaders(flags), perMessageDeflate: false });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  const stop = stopSignal(io.signal);
  try {
    // Listen before the handshake completes: the hello can arrive in the same read.
    const opened = open(ws, flags.url);
    const print = (text: string): void => {
      // Backpressure: stop reading the socket until stdout drains.
      if (text !== '' && !io.stdout.write(text)) {
        ws.pause();
        io.stdout.once('drain', () => ws.resume());
      }
    };
    ws.on('message', (data: Buffer) => {
      let message: Message;
      try {
        message = JSON.parse(data.toString('utf8')) as Message;
      } catch {
        return;
      }
      if (message.type === 'hello') {
        io.stderr.write(
          `tailing ${flags.org}${describeFilters(message.filters)}; Ctrl-C to stop\n`,
        );
        print(header(flags.format));
      } else if (message.type === 'session' && message.data) {
        print(formatItem(flags.format, message.data));
      }
    });
    await opened;
    const onStop = (): void => ws.close(1000, 'client done');
    if (stop.signal.aborted) onStop();
    stop.signal.addEventListener('abort', onStop, { once: true });
    const { code, reason } = await closed;
    if (stop.signal.aborted) return;
    if (code === 1013) {
      throw new CliError(
        'the collector dropped this tail: slow consumer (the output did not keep up); narrow the filters or write to a file',
      );
    }
    if (code === 1001) throw new CliError('the collector is shutting down; the tail ended');
    throw new CliError(`the tail ended (close code ${code}${reason ? `: ${reason}` : ''})`);
  } finally {
    stop.done();
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  }
}

const EXAMPLES = `
Examples:
  $ connlog-collector tail --org acme
  $ connlog-collector tail --org acme --user alice --protocol tcp
  $ connlog-collector tail --org acme --dest 10.0.0.0/8 --status completed --format json | jq .

Each stored version of a matching session is printed: when it starts, at updates of
long sessions, and when it ends. The filters are those of "logs" without --from/--to.
`;

export function registerTail(
  program: Command,
  io: CliIo,
  run: (fn: () => Promise<void>) => Promise<void>,
): void {
  const command = program
    .command('tail')
    .description("follow an org's sessions live as the collector stores them (WebSocket)");
  addConnectionOptions(command);
  addFilterOptions(command, { time: false });
  command
    .option('-f, --format <format>', 'table, json (one item per line) or csv', parseFormat, 'table')
    .addHelpText('after', EXAMPLES)
    .action((flags: TailFlags) => run(() => runTail(flags, io)));
}
