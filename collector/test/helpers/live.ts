import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { SessionRow } from '../../src/store/store.js';

/** A stand-in for the collector's rows-stored hook: tests emit rows as if stored. */
export function rowsStoredHook(): {
  events: { onRowsStored(listener: (rows: readonly SessionRow[]) => void): () => void };
  emit(rows: readonly SessionRow[]): void;
  readonly listeners: number;
} {
  const listeners = new Set<(rows: readonly SessionRow[]) => void>();
  return {
    events: {
      onRowsStored(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    emit(rows) {
      for (const listener of listeners) listener(rows);
    },
    get listeners() {
      return listeners.size;
    },
  };
}

export interface LiveMessage {
  type: string;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface LiveClient {
  ws: WebSocket;
  messages: LiveMessage[];
  /** Session ids received, in order. */
  sessions(): string[];
  closed: Promise<{ code: number; reason: string }>;
}

/** A refused upgrade: the HTTP status and JSON body the server answered with. */
export interface Refused {
  status: number;
  body: { error?: { code?: string; param?: string; message?: string } };
  headers: IncomingMessage['headers'];
}

/** Open a live tail; resolves after the hello message, or with the refusal. */
export function openLive(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<LiveClient | Refused> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${path}`, { headers });
  const messages: LiveMessage[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(text) as Refused['body'],
          headers: res.headers,
        });
        ws.terminate();
      });
    });
    ws.on('error', (err) => reject(err));
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as LiveMessage;
      messages.push(message);
      if (message.type === 'hello') {
        resolve({
          ws,
          messages,
          closed,
          sessions: () =>
            messages.filter((m) => m.type === 'session').map((m) => String(m.data?.session_id)),
        });
      }
    });
  });
}

export function isRefused(value: LiveClient | Refused): value is Refused {
  return 'status' in value;
}
