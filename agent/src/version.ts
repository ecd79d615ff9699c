import { readFileSync } from 'node:fs';

/** The agent's package version, stamped on every batch (`agent_version`). */
export const AGENT_VERSION: string = readVersion();

function readVersion(): string {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    const parsed = JSON.parse(text) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
