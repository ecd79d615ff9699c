import { CloseReason, MAX_ERROR_CHARS } from '@connlog/proto';

/** Why a session ended, reduced to the closed set of the wire contract. */
export interface Outcome {
  reason: CloseReason;
  /** Short description for `error`; `''` for clean closes. */
  error: string;
}

/** Errno codes meaning "the target cannot be reached or refused". */
const DIAL_FAILED_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_FAIL',
  'EADDRNOTAVAIL',
  'ECONNRESET',
  'ECONNABORTED',
  'EACCES',
  'EPERM',
]);

/** Errno codes meaning "the peer tore the connection down". */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs dials (several addresses) fail with an AggregateError of attempts.
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Truncate to the wire contract's bound, on one line. */
export function boundError(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= MAX_ERROR_CHARS ? line : `${line.slice(0, MAX_ERROR_CHARS - 3)}...`;
}

/** The connect to the target failed (before any byte flowed). */
export function dialOutcome(err: unknown): Outcome {
  const code = errorCode(err);
  if (code === 'ETIMEDOUT') {
    return { reason: CloseReason.DIAL_TIMEOUT, error: boundError(errorText(err)) };
  }
  if (code !== undefined && DIAL_FAILED_CODES.has(code)) {
    return { reason: CloseReason.DIAL_FAILED, error: boundError(errorText(err)) };
  }
  return { reason: CloseReason.ERROR, error: boundError(`dial: ${errorText(err)}`) };
}

/** Our own dial timer fired. */
export function dialTimeoutOutcome(timeoutMs: number): Outcome {
  return { reason: CloseReason.DIAL_TIMEOUT, error: `no connection within ${timeoutMs} ms` };
}

/** A socket of an established session failed; `side` says which one. */
export function socketOutcome(side: 'client' | 'target', err: unknown): Outcome {
  const code = errorCode(err);
  const error = boundError(`${side}: ${errorText(err)}`);
  if (code !== undefined && RESET_CODES.has(code)) return { reason: CloseReason.RESET, error };
  return { reason: CloseReason.ERROR, error };
}

/** What a connected UDP socket reports when ICMP says the target cannot be reached. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/**
 * An error on a UDP flow's socket toward the target. ICMP port/host unreachable before
 * any reply means the target was never reached: `dial_failed`, like a refused TCP
 * connect. After replies it is the UDP analogue of a reset: `reset`, `error` naming
 * the target side (`target: connect ECONNREFUSED ...`). Anything else: `error`.
 */
export function udpTargetOutcome(err: unknown, answered: boolean): Outcome {
  if (!answered) return dialOutcome(err);
  const code = errorCode(err);
  const error = boundError(`target: ${errorText(err)}`);
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return { reason: CloseReason.RESET, error };
  }
  return socketOutcome('target', err);
}

/** The PROXY protocol header was refused; `error` is the bounded reason. */
export function proxyHeaderOutcome(reason: string): Outcome {
  return { reason: CloseReason.ERROR, error: reason };
}

/** Both directions finished cleanly; whoever sent its FIN first ended the session. */
export function cleanOutcome(firstEnded: 'client' | 'target'): Outcome {
  return {
    reason: firstEnded === 'client' ? CloseReason.CLIENT_CLOSED : CloseReason.TARGET_CLOSED,
    error: '',
  };
}

export const SHUTDOWN_OUTCOME: Outcome = { reason: CloseReason.AGENT_SHUTDOWN, error: '' };
