import { type Check, diskSpaceCheck, LOW_DISK_WARN_BYTES, READY_WRITE_PROBE_INTERVAL_MS, writeFailureCheck } from '@ventesync/runtime/metrics';
import type { StorageHealth } from './storage-health.js';
import type { HealthStorage } from './storage/storage.js';

/**
 * The checks of the server's `/ready`. `database`: it answers, no write failed that was not
 * followed by one that worked (storage-health.ts), and a real write (`probeWrite`: on SQLite
 * fresh disk space, then a page of its own, rolled back) works, tried at most every few
 * seconds. `disk`: free space of the database's disk, a warning well before it runs out (a
 * database on another machine, PostgreSQL, has none here to watch).
 */
export function serverChecks(deps: {
  storage: HealthStorage;
  health: StorageHealth;
  now: () => number;
  lowDiskWarnBytes?: number;
}): () => Promise<Record<string, Check>> {
  const { storage, health } = deps;
  let probed: { at: number; check: Check } | null = null;

  // The write probe's answer is kept a few seconds: a load balancer polling /ready often costs
  // one real write per interval, not one per poll.
  async function probe(): Promise<Check> {
    const t = deps.now();
    if (probed && t - probed.at < READY_WRITE_PROBE_INTERVAL_MS && t >= probed.at) return probed.check;
    let check: Check;
    try {
      await storage.probeWrite();
      check = { status: 'pass', message: 'écriture possible' };
    } catch (error) {
      check = writeFailureCheck(error);
    }
    probed = { at: t, check };
    return check;
  }

  async function database(): Promise<Check> {
    try {
      await storage.ping();
    } catch (error) {
      return { status: 'fail', message: `la base ne répond pas (${String((error as { code?: unknown }).code ?? error)})` };
    }
    const state = await health.state();
    if (!state.ok) return { status: 'fail', message: state.reason };
    return probe();
  }

  return async () => ({
    database: await database(),
    disk:
      storage.diskFile === null
        ? { status: 'pass', message: 'base sur un autre serveur : pas de disque local à surveiller' }
        : diskSpaceCheck(storage.diskFile, deps.lowDiskWarnBytes ?? LOW_DISK_WARN_BYTES),
  });
}
