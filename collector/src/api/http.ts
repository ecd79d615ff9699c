import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';

/** Every JSON response carries this exact content type, whatever the request's Accept. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendApiError(
  res: ServerResponse,
  err: ApiError,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, err.status, err.toJSON());
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Raised by `readBody` when the body is over its bound (the caller maps it). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  readonly code = 'BODY_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(`request body is over ${maxBytes} bytes`);
  }
}

/** The request body as UTF-8, refusing more than `maxBytes` (the rest is not read). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new BodyTooLargeError(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Write `chunk` honouring backpressure: when the socket buffer is full, wait for
 * `drain` (or for the client to go away, which aborts `signal`).
 */
export async function writeChunk(
  res: ServerResponse,
  chunk: string | Uint8Array,
  signal: AbortSignal,
): Promise<void> {
  if (res.write(chunk)) return;
  await once(res, 'drain', { signal });
}

/** The query parameters as `{ name: [values] }`, for the admin log and the live hello. */
export function queryObject(search: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of new Set(search.keys())) out[name] = search.getAll(name);
  return out;
}
