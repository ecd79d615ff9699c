/**
 * Keyset cursor: the (started_at, session_id) of the last row of a page. The next
 * page continues strictly below it in `ORDER BY started_at DESC, session_id DESC`,
 * so rows inserted meanwhile neither shift nor repeat what the client already saw.
 * Opaque to clients: base64url of `v1:<started_at ms>:<session_id>`.
 */

export interface Cursor {
  startedAtMs: number;
  sessionId: string;
}

const SHAPE = /^v1:(\d{1,15}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`v1:${cursor.startedAtMs}:${cursor.sessionId}`, 'utf8').toString('base64url');
}

/** The cursor, or undefined when `text` is not one `encodeCursor` made. */
export function decodeCursor(text: string): Cursor | undefined {
  if (text.length > 200 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const m = SHAPE.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!m?.[1] || !m[2]) return undefined;
  return { startedAtMs: Number(m[1]), sessionId: m[2] };
}
