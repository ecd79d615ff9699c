import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('generated code', () => {
  it('is current with the .proto files', () => {
    const script = fileURLToPath(new URL('../scripts/generate.mjs', import.meta.url));
    // Exits non-zero (and so throws) when src/generated differs from a fresh generation.
    const out = execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/current/);
  }, 60_000);
});
