/** JetStream stream that holds every session event batch. */
export const SESSIONS_STREAM = 'CONNLOG_SESSIONS';

/** Subject prefix; a batch goes to `<prefix>.<org>.<site>`. */
export const SESSIONS_SUBJECT_PREFIX = 'connlog.v1.sessions';

/**
 * Org and site ids become NATS subject tokens and ClickHouse values, so they are
 * restricted to a safe alphabet: letters, digits, `_` and `-`, 1 to 64 characters.
 */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidToken(value: string): boolean {
  return TOKEN.test(value);
}

export function sessionsSubject(org: string, site: string): string {
  return `${SESSIONS_SUBJECT_PREFIX}.${org}.${site}`;
}

/** Parse `connlog.v1.sessions.<org>.<site>`; undefined when the subject has another shape. */
export function parseSessionsSubject(subject: string): { org: string; site: string } | undefined {
  const prefix = `${SESSIONS_SUBJECT_PREFIX}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const rest = subject.slice(prefix.length).split('.');
  if (rest.length !== 2) return undefined;
  const [org, site] = rest;
  if (org === undefined || site === undefined || !isValidToken(org) || !isValidToken(site)) {
    return undefined;
  }
  return { org, site };
}

/** `Nats-Msg-Id` of a batch: stable across re-publishes so JetStream drops duplicates. */
export function batchMsgId(agentId: string, batchSeq: number): string {
  return `${agentId}:${batchSeq}`;
}
