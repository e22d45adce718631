import { join } from 'node:path';
import { openDatabase } from '../src/db/open-database.js';
import { createSqliteStorage } from '../src/storage/sqlite-storage.js';
import { tempDir } from './helpers.js';
import { describeStorageContract } from './storage-contract.js';

// On a file, as the server runs: WAL, the group commit's durable commits, the disk probes.
describeStorageContract('SQLite', async () => {
  const tmp = tempDir();
  const storage = createSqliteStorage(openDatabase(join(tmp.dir, 'contrat.db')));
  return { storage, cleanup: async () => tmp.cleanup() };
});
