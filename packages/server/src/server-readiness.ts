import { cachedProbe, type Check, diskSpaceCheck, LOW_DISK_WARN_BYTES, writeProbeCheck } from '@ventesync/runtime/metrics';
import type { Db } from './db/open-database.js';
import type { StorageHealth } from './storage-health.js';

/**
 * The checks of the server's `/ready`. `database`: it answers, no write failed that was not
 * followed by one that worked (storage-health.ts), and a real write (`probeWrite`: fresh disk
 * space, then a page of SQLite's own, rolled back) works, tried at most every few seconds.
 * `disk`: free space, a warning well before it runs out.
 */
export function serverChecks(deps: {
  db: Db;
  storage: StorageHealth;
  probeWrite: () => void;
  now: () => number;
  lowDiskWarnBytes?: number;
}): () => Record<string, Check> {
  const { db, storage } = deps;
  const ping = db.prepare('SELECT 1').pluck();
  const probe = cachedProbe(() => writeProbeCheck(deps.probeWrite), deps.now);

  function database(): Check {
    try {
      ping.get();
    } catch (error) {
      return { status: 'fail', message: `la base ne répond pas (${String((error as { code?: unknown }).code ?? error)})` };
    }
    const state = storage.state();
    if (!state.ok) return { status: 'fail', message: state.reason };
    return probe();
  }

  return () => ({ database: database(), disk: diskSpaceCheck(db.name, deps.lowDiskWarnBytes ?? LOW_DISK_WARN_BYTES) });
}
