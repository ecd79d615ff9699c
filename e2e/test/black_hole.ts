import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connect, type Socket } from 'node:net';

export interface BlackHole {
  readonly port: number;
  close(): void;
}

/**
 * A loopback address that never completes a TCP handshake: a listening socket that
 * never accepts, with its (tiny) backlog filled, so the kernel drops further SYNs and a
 * connect hangs until the dialer's timeout. Node always accepts, so python3 holds the
 * socket.
 */
export async function blackHole(): Promise<BlackHole> {
  const child = spawn(
    'python3',
    [
      '-c',
      [
        'import socket, sys',
        's = socket.socket()',
        "s.bind(('127.0.0.1', 0))",
        's.listen(0)',
        'print(s.getsockname()[1], flush=True)',
        'sys.stdin.read()',
      ].join('\n'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('error', reject);
  });
  const port = Number(line);
  // Fill the accept queue so the next SYNs go unanswered.
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i += 1) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    fillers.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    port,
    close: () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}
