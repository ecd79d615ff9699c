// Pieces of the collector the benchmarks use in-process: the embedded store, the
// batch decoder, API keys. Imported from the collector's build (pnpm build first).
import { join } from 'node:path';
import { repo } from './lib.mjs';

// BENCH_COLLECTOR_DIST: another build of the collector, to A/B a change.
const dist = process.env.BENCH_COLLECTOR_DIST ?? join(repo, 'collector', 'dist');

/** A logger that drops everything (the store and key registry want one). */
export const quietLog = {
  level: 'silent',
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child() {
    return quietLog;
  },
};

export async function openStore(dataDir) {
  const { createChdbStore } = await import(join(dist, 'store', 'chdb.js'));
  const store = createChdbStore({ dataDir, database: 'connlog', log: quietLog });
  await store.migrate();
  return store;
}

export async function decoder() {
  const { decodeMessage } = await import(join(dist, 'ingest', 'decode.js'));
  return (subject, data) => {
    const result = decodeMessage(subject, data, { retentionFor: () => 30 });
    if (!result.ok) throw new Error(`bench batch rejected: ${result.message}`);
    return result.rows;
  };
}

/** Create an API key in the deployment's KV bucket; returns the key text. */
export async function createKey(natsUrl, { role = 'auditor', org = '*' } = {}) {
  const { connect } = await import('@nats-io/transport-node');
  const { createApiKeys } = await import(join(dist, 'auth', 'keys.js'));
  const nc = await connect({ servers: natsUrl });
  try {
    const keys = await createApiKeys({ nc, log: quietLog });
    const { key } = await keys.create({ role, org, name: 'bench', createdBy: 'cli:bench' });
    await keys.close();
    return key;
  } finally {
    await nc.close();
  }
}

/** A read-only SQL client of a running collector (`/sql`, JSONEachRow rows). */
export function sqlClient(url, key) {
  return async (query) => {
    const response = await fetch(`${url}/sql?default_format=JSONEachRow`, {
      method: 'POST',
      body: query,
      headers: { authorization: `Bearer ${key}` },
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`sql failed (${response.status}): ${text}`);
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line));
  };
}
