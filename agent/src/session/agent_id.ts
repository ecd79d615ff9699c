import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isValidToken } from '@connlog/proto';
import { AgentError, describeError } from '../errors.js';
import { UuidV7Generator } from './ids.js';

export const AGENT_ID_FILE = 'agent-id';

/**
 * The agent id from `<dir>/agent-id`, created (UUIDv7) on first start. It must stay
 * stable across restarts: it prefixes every `Nats-Msg-Id`, and batch sequences
 * continue from the spool, so a new id on restart would defeat deduplication.
 */
export function loadOrCreateAgentId(dir: string): string {
  const file = join(dir, AGENT_ID_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AgentError('AGENT_ID', `cannot read ${file}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }
  if (text !== undefined) {
    if (!isValidToken(text)) {
      throw new AgentError(
        'AGENT_ID',
        `${file} holds an invalid agent id (expected 1-64 characters of A-Z a-z 0-9 _ -)`,
      );
    }
    return text;
  }
  const id = new UuidV7Generator().next();
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, `${id}\n`);
    renameSync(tmp, file);
  } catch (err) {
    throw new AgentError('AGENT_ID', `cannot write ${file}: ${describeError(err)}`, { cause: err });
  }
  return id;
}
