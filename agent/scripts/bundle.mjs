// Bundles the agent's compiled entry point (dist/cli.js) and every dependency into one
// minified ESM file that bin/connlog-agent.js loads when it exists. Why: V8 keeps each
// module's source text, module record and scope data on the heap, and Node's loader
// code gets hot (then optimized) resolving ~270 files; one file of ~850 KB left the idle
// agent ~9 MiB smaller (docs/agent.md § Memory).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

await build({
  entryPoints: [`${dist}cli.js`],
  outfile: `${dist}connlog-agent.bundle.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Whitespace and syntax only: identifiers keep their names, so class names in logs
  // (pino's `err.type` is `err.constructor.name`) and stack traces stay readable.
  // Renaming identifiers saved nothing more; `keepNames` cost ~0.7 MiB of idle RSS.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // The CommonJS dependencies (pino, commander, protobufjs) call `require` for Node's
  // builtins, which an ES module does not have.
  banner: {
    js: "import { createRequire as __connlogRequire } from 'node:module'; const require = __connlogRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
