import { connect } from 'node:net';

export interface ClientResult {
  sent: number;
  received: number;
  data: Buffer;
  localPort: number;
}

/**
 * Connect, send `payload` (then half-close our side), read until the other side ends.
 * Counts exactly what crossed this socket, so a test can compare with the stored row.
 */
export function exchange(port: number, payload: Buffer, keepOpenMs = 0): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let received = 0;
    let localPort = 0;
    socket.on('connect', () => {
      localPort = socket.localPort ?? 0;
      socket.write(payload, () => {
        if (keepOpenMs > 0) setTimeout(() => socket.end(), keepOpenMs);
        else socket.end();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (chunks.length < 16) chunks.push(chunk);
    });
    socket.on('end', () => {
      socket.end();
      resolve({ sent: payload.length, received, data: Buffer.concat(chunks), localPort });
    });
    socket.on('error', reject);
  });
}
