/**
 * Stable codes for agent failures. `CONFIG_INVALID` means the operator must fix the
 * configuration; the others name the startup step that failed.
 */
export type AgentErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_READ'
  | 'LISTEN_FAILED'
  | 'SPOOL_OPEN'
  | 'AGENT_ID'
  | 'HTTP_LISTEN'
  | 'AGENT_CLOSED';

export class AgentError extends Error {
  override readonly name = 'AgentError';
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A short, single-line description of any thrown value (never a stack). */
export function describeError(err: unknown): string {
  // Our own messages are written for operators already; their code is for programs.
  if (err instanceof AgentError) return err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
