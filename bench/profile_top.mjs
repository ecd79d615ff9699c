// Top functions by self time of a V8 .cpuprofile (node --cpu-prof), as a text table.
//   node bench/profile_top.mjs <file.cpuprofile> [n]
import { readFileSync } from 'node:fs';

export function topFunctions(file, n = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?)?/, '');
    const key = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    const us = dt[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  });
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  return rows
    .map(
      ([key, us]) =>
        `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`,
    )
    .join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(topFunctions(process.argv[2], Number(process.argv[3] ?? 25)));
}
