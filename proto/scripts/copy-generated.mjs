// tsc does not copy plain .js files; put the generated code next to the compiled index.
import { cpSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'src', 'generated'), join(root, 'dist', 'generated'), { recursive: true });
