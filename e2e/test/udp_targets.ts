import { createSocket, type Socket } from 'node:dgram';

export interface UdpTarget {
  readonly port: number;
  /** Datagrams received so far. */
  readonly received: () => number;
  close(): Promise<void>;
}

async function bind(
  onMessage: (socket: Socket, msg: Buffer, port: number, address: string) => void,
) {
  const socket = createSocket('udp4');
  let received = 0;
  socket.on('message', (msg, rinfo) => {
    received += 1;
    onMessage(socket, msg, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    received: () => received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** Sends every datagram back to its sender. */
export function udpEchoTarget(): Promise<UdpTarget> {
  return bind((socket, msg, port, address) => socket.send(msg, port, address));
}

/**
 * A DNS-style responder: answers each query with the query (id, flags, question) plus
 * one A record, so the answer is longer than the question by a known amount.
 */
export function dnsTarget(): Promise<UdpTarget> {
  return bind((socket, msg, port, address) => socket.send(dnsAnswer(msg), port, address));
}

/** Bytes the answer adds to a question: name pointer, type, class, TTL, length, IPv4. */
export const DNS_ANSWER_EXTRA = 16;

/** A standard query for `name`, type A, class IN, with transaction id `id`. */
export function dnsQuery(id: number, name: string): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4); // one question
  const labels = name.split('.').map((label) => {
    const text = Buffer.from(label, 'ascii');
    return Buffer.concat([Buffer.of(text.length), text]);
  });
  return Buffer.concat([header, ...labels, Buffer.of(0, 0, 1, 0, 1)]);
}

function dnsAnswer(query: Buffer): Buffer {
  const answer = Buffer.from(query);
  answer.writeUInt16BE(0x8180, 2); // response, recursion available, no error
  answer.writeUInt16BE(1, 6); // one answer
  const record = Buffer.alloc(DNS_ANSWER_EXTRA);
  record.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  record.writeUInt16BE(1, 2); // A
  record.writeUInt16BE(1, 4); // IN
  record.writeUInt32BE(60, 6); // TTL
  record.writeUInt16BE(4, 10);
  Buffer.of(192, 0, 2, 53).copy(record, 12);
  return Buffer.concat([answer, record]);
}

export interface UdpClient {
  readonly socket: Socket;
  readonly port: number;
  /** Datagrams received, in order. */
  readonly received: Buffer[];
  send(msg: Buffer, port: number): void;
  close(): void;
}

/** A client socket bound to a fresh loopback port (each is its own flow). */
export async function udpClient(): Promise<UdpClient> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (msg) => received.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let closed = false;
  return {
    socket,
    port: socket.address().port,
    received,
    send: (msg, port) => socket.send(msg, port, '127.0.0.1'),
    close: () => {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
