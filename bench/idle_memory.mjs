// Idle memory of connlog-agent builds side by side: each variant is started in turn
// (rounds alternate the order), left 3 s to settle, then its /proc status and
// smaps_rollup are read. A variant is `label=bin[|node flags][|ENV=v,...]`.
//   node bench/idle_memory.mjs --rounds 5 --variant a=agent/bin/connlog-agent.js ...
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AGENT_NODE_FLAGS,
  alternate,
  daemon,
  ensureStream,
  fmt,
  freePort,
  median,
  shebangNodeFlags,
  sleep,
  startNats,
  waitHttp,
  workDir,
} from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] || 5);
const settle = Number(args.includes('--settle') ? args[args.indexOf('--settle') + 1] : 3000);
const variants = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] !== '--variant') continue;
  const [label, rest] = args[i + 1].split(/=(.*)/s);
  const [bin, flags, env] = rest.split('|');
  const binPath = resolve(bin);
  variants.push({
    label,
    bin: binPath,
    flags: flags === undefined ? shebangNodeFlags(binPath) : flags.split(' ').filter(Boolean),
    env: Object.fromEntries(
      (env ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('=')),
    ),
  });
}
const fields = ['VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'Threads'];
function status(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const out = {};
  for (const f of fields) out[f] = Number(new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(text)[1]);
  return out;
}

const dir = workDir('idle');
const nats = await startNats(dir.path);
await ensureStream(nats.url);
const results = Object.fromEntries(variants.map((v) => [v.label, []]));
for (let round = 0; round < rounds; round++) {
  for (const v of alternate(variants, round)) {
    const httpPort = await freePort();
    const cfg = join(dir.path, 'agent.yaml');
    writeFileSync(
      cfg,
      JSON.stringify({
        org: 'bench',
        site: 'local',
        nats: { servers: [nats.url] },
        spool: { dir: join(dir.path, `spool-${v.label}`) },
        http: { listen: `127.0.0.1:${httpPort}` },
        log: { level: 'warn' },
        resources: [
          {
            id: 'echo',
            protocol: 'tcp',
            listen: `127.0.0.1:${await freePort()}`,
            target: '127.0.0.1:9',
          },
        ],
      }),
    );
    const agent = daemon(process.execPath, [...v.flags, v.bin, 'run', '--config', cfg], {
      env: { ...process.env, ...v.env },
    });
    await waitHttp(`http://127.0.0.1:${httpPort}/healthz`, 60_000, agent);
    await sleep(settle);
    const s = status(agent.pid);
    if (args.includes('--smaps')) {
      console.error(v.label, readFileSync(`/proc/${agent.pid}/smaps_rollup`, 'utf8'));
    }
    results[v.label].push(s);
    await agent.stop();
  }
}
await nats.stop();
console.log(`| variant | ${fields.join(' | ')} (kB, median [min–max] of ${rounds}) |`);
for (const v of variants) {
  const cells = fields.map((f) => {
    const xs = results[v.label].map((r) => r[f]);
    return `${median(xs)} [${Math.min(...xs)}–${Math.max(...xs)}]`;
  });
  console.log(`| ${v.label} | ${cells.join(' | ')} |`);
}
console.log(
  `VmRSS bytes medians: ${variants.map((v) => `${v.label}=${fmt((median(results[v.label].map((r) => r.VmRSS)) * 1024) / 1e6, 2)} MB`).join(', ')}`,
);
dir.remove();
