/**
 * The bounds an event must keep to be stored, shared by the reference decoder
 * (decode.ts) and the fast path (wire_rows.ts), so the two cannot drift apart.
 */

/** 2000-01-01: anything earlier is a clock or encoding bug, not a session. */
export const EARLIEST_MS = 946_684_800_000;
/** Agent clocks may run ahead; a day is generous, more is a bug. */
export const MAX_FUTURE_MS = 86_400_000;
export const MAX_ID_CHARS = 128;
export const MAX_IDENTITY_CHARS = 256;
export const MAX_HOST_CHARS = 255;
export const MAX_GAP_REASON_CHARS = 64;
