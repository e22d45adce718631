import { afterAll, beforeAll, describe } from 'vitest';
import { createPgStorage } from '../src/postgres/pg-storage.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';
import { describeStorageContract } from './storage-contract.js';

// The same contract as SQLite's (storage-sqlite.test.ts), on a real PostgreSQL: one throwaway
// cluster for the file, a fresh database for each test, opened as the server opens it.
describe.skipIf(!pgSuiteEnabled())('PostgreSQL storage', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  describeStorageContract('PostgreSQL', async () => {
    const storage = await createPgStorage(await cluster.createDatabase());
    return { storage, cleanup: async () => {} };
  });
});
