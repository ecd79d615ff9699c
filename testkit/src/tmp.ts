import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory; `remove()` deletes it (idempotent). */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `connlog-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
