import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

export interface BlackHole {
  readonly port: number;
  close(): void;
}

/** python3 program: listen with a backlog of 0, never accept, print the port. */
const HOLDER = [
  'import socket, sys',
  's = socket.socket()',
  "s.bind(('127.0.0.1', 0))",
  's.listen(0)',
  'print(s.getsockname()[1], flush=True)',
  'sys.stdin.read()',
].join('\n');

/** Connections that fill the accept queue; one is enough on Linux, the rest are margin. */
const FILLERS = 3;

/**
 * A loopback port that never completes a TCP handshake, for dial-timeout tests: a
 * listening socket that never accepts, with its (tiny) accept queue filled, so the
 * kernel drops further SYNs and a connect hangs until the dialer's timeout. Node
 * always accepts, so python3 holds the socket. `close()` kills it.
 */
export async function blackHole(): Promise<BlackHole> {
  const child = spawn('python3', ['-c', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('error', reject);
  });
  const port = Number(line);
  const fillers: Socket[] = [];
  for (let i = 0; i < FILLERS; i += 1) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    fillers.push(socket);
  }
  // Give the fillers' handshakes time to land in the queue before anyone dials.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    port,
    close: () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}
