import { createServer, type Server, type Socket } from 'node:net';

export interface Target {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

async function listen(handler: (socket: Socket) => void): Promise<Target> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    handler(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes everything back; ends its side when the client ends. */
export function echoTarget(): Promise<Target> {
  return listen((socket) => socket.pipe(socket));
}

/** Sends `size` bytes as soon as a client connects, then ends its side. */
export function downloadTarget(size: number): Promise<Target> {
  return listen((socket) => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let left = size;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!socket.write(chunk.subarray(0, n))) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.resume();
    pump();
  });
}

/** Reads until the client ends, then answers with the byte count as text and ends. */
export function uploadTarget(): Promise<Target> {
  return listen((socket) => {
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on('end', () => socket.end(String(received)));
  });
}

export interface UdpTarget {
  readonly port: number;
  close(): Promise<void>;
}

/** A UDP echo server: every datagram goes back to its sender unchanged. */
export async function udpEchoTarget(): Promise<UdpTarget> {
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  socket.on('message', (message, remote) => socket.send(message, remote.port, remote.address));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
