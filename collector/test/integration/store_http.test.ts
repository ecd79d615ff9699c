import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { tempDir } from '@connlog/testkit';
import { parseConfig } from '../../src/config.js';
import { createStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { startChdbHttpServer } from '../helpers/chdb_http.js';
import type { ChdbHttpServer } from '../helpers/chdb_http.js';
import { sessionRow } from '../helpers/rows.js';
import { codeOf, collect, describeStoreContract } from '../helpers/store_contract.js';

/**
 * The collector's server-mode store (`clickhouse.url`, `@clickhouse/client`) over
 * ClickHouse's HTTP interface, against the real engine: no ClickHouse server binary
 * is installable here, so a test-only fixture (helpers/chdb_http.ts) answers the
 * protocol with chDB behind it. The store is built by the production createStore.
 */

const log = pino({ level: 'silent' });
const dir = tempDir('store-http');
let fixture: ChdbHttpServer;

function openStore(): Store {
  const config = parseConfig({
    dataDir: dir.path,
    clickhouse: { url: fixture.url, username: 'default', password: '' },
  });
  return createStore(config, log);
}

describeStoreContract('ClickHouse HTTP store', {
  kind: 'http',
  start: async () => {
    fixture = await startChdbHttpServer(dir.path);
  },
  open: openStore,
});

describe('ClickHouse HTTP store: what goes over the wire', () => {
  let store: Store;

  beforeAll(async () => {
    store = openStore();
    await store.migrate();
  });

  afterAll(async () => {
    await store.close();
    await fixture.close();
    dir.remove();
  });

  it('sends inserts with the rows in the body and the dedup token as a setting', async () => {
    const before = fixture.requests.length;
    await store.insertSessions([sessionRow({ org_id: 'wire' })], { dedupToken: 'wire-1' });
    const insert = fixture.requests.slice(before).find((r) => r.statement.startsWith('INSERT'));
    expect(insert?.statement).toMatch(/^INSERT INTO connlog\.sessions FORMAT JSONEachRow$/);
    expect(insert?.settings.insert_deduplication_token).toBe('wire-1');
    expect(insert?.database).toBe('connlog');
  });

  it('sends read-only queries with readonly=1, parameters as param_<name>', async () => {
    const before = fixture.requests.length;
    const rows = await store.query<{ n: number }>(
      'SELECT count() AS n FROM network_logs WHERE org_id = {org:String}',
      { org: 'wire' },
      { readonly: true },
    );
    expect(rows).toEqual([{ n: 1 }]);
    const sent = fixture.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.settings.readonly).toBe('1');
    expect(sent[0]?.params).toEqual({ org: 'wire' });
  });

  it('a read-only stream cannot write, even through a function of the statement', async () => {
    const code = await codeOf(
      collect(
        store.queryStream(
          "SELECT * FROM numbers(1) WHERE 0 = (SELECT count() FROM (INSERT INTO sessions (org_id) VALUES ('x')))",
          {},
          'CSV',
          { readonly: true },
        ),
      ),
    );
    expect(code).not.toBe('resolved');
    const rows = await store.query<{ n: number }>(
      "SELECT count() AS n FROM sessions WHERE org_id = 'x'",
    );
    expect(rows).toEqual([{ n: 0 }]);
  });
});
