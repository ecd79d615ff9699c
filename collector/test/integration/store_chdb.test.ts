import { pino } from 'pino';
import { tempDir } from '@connlog/testkit';
import { createChdbStore } from '../../src/store/chdb.js';
import { describeStoreContract } from '../helpers/store_contract.js';

/** The embedded engine against the store contract every engine meets. */

const log = pino({ level: 'silent' });
const dir = tempDir('store');

describeStoreContract('chDB store', {
  kind: 'embedded',
  open: () => createChdbStore({ dataDir: dir.path, database: 'connlog', log }),
  stop: () => {
    dir.remove();
    return Promise.resolve();
  },
});
