import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  decodeBatch,
  SESSIONS_STREAM,
  SESSIONS_SUBJECT_PREFIX,
  type SessionEvent,
  type SessionEventBatch,
} from '@connlog/proto';
import { waitFor, type NatsServer } from '@connlog/testkit';

/** Create the sessions stream the way an admin would (file storage, discard new). */
export async function createSessionsStream(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: SESSIONS_STREAM,
      subjects: [`${SESSIONS_SUBJECT_PREFIX}.>`],
      duplicate_window: 120_000_000_000,
    });
  } finally {
    await nc.close();
  }
}

/** Reads every batch in the stream (by sequence, re-callable inside waitFor). */
export class StreamReader {
  private conn: { nc: NatsConnection; jsm: JetStreamManager } | undefined;
  private readonly batches: { subject: string; batch: SessionEventBatch; msgId: string }[] = [];
  private nextSeq = 1;

  constructor(private readonly nats: NatsServer) {}

  async batchesSoFar(): Promise<{ subject: string; batch: SessionEventBatch; msgId: string }[]> {
    if (this.conn === undefined || this.conn.nc.isClosed()) {
      const nc = await connect({ servers: this.nats.url });
      this.conn = { nc, jsm: await jetstreamManager(nc) };
    }
    const { jsm } = this.conn;
    const info = await jsm.streams.info(SESSIONS_STREAM);
    for (; this.nextSeq <= info.state.last_seq; this.nextSeq += 1) {
      const msg = await jsm.streams.getMessage(SESSIONS_STREAM, { seq: this.nextSeq });
      if (msg === null) continue;
      this.batches.push({
        subject: msg.subject,
        batch: decodeBatch(msg.data),
        msgId: msg.header.get('Nats-Msg-Id'),
      });
    }
    return this.batches;
  }

  async events(resourceId?: string): Promise<SessionEvent[]> {
    const batches = await this.batchesSoFar();
    const events = batches.flatMap((entry) => entry.batch.events);
    return resourceId === undefined ? events : events.filter((e) => e.resourceId === resourceId);
  }

  async close(): Promise<void> {
    await this.conn?.nc.close();
    this.conn = undefined;
  }
}

/** Deterministic payload of `size` bytes. */
export function payload(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) buf[i] = (i * 31 + 7) & 0xff;
  return buf;
}

export interface TargetServer {
  port: number;
  /** Bytes each accepted connection received, in accept order. */
  received: number[];
  close(): Promise<void>;
}

/**
 * A target: `onConnection` scripts what it sends; it counts what it receives.
 * Half-open so it can keep sending after the client's FIN.
 */
export async function startTarget(
  onConnection: (socket: Socket, index: number) => void,
): Promise<TargetServer> {
  const received: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    const index = received.length;
    received.push(0);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received[index] = (received[index] ?? 0) + chunk.length;
    });
    onConnection(socket, index);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface ClientResult {
  received: Buffer;
  /** How the client saw the end: `end` (clean FIN), `close`, or an error code. */
  ending: string;
}

/**
 * Connect, send `data` (in chunks), optionally half-close, and collect everything the
 * far side sends until it ends. Resolves on end, error or close.
 */
export function exchange(
  port: number,
  data: Buffer,
  options: { endAfterSend?: boolean } = {},
): Promise<ClientResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = tcpConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let settled = false;
    const done = (ending: string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), ending });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      socket.end();
      done('end');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    socket.on('close', () => done('close'));
    socket.on('connect', () => {
      if (data.length > 0) socket.write(data);
      if (options.endAfterSend !== false) socket.end();
    });
  });
}

/**
 * Open a session to `port`, echo `bytes` through it, leave it open; the socket goes
 * into `sockets` (for the test's cleanup). `closed` resolves when the agent closes it.
 */
export async function holdEchoSession(
  port: number,
  bytes: number,
  sockets: Socket[],
): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => undefined);
  let got = 0;
  socket.on('data', (chunk: Buffer) => (got += chunk.length));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(Buffer.alloc(bytes, 1));
  await waitFor(() => got === bytes, 10_000, 'the echo');
  return { socket, closed };
}
