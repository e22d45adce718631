import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';

/** Below this much free space on the database's disk, `/health` reports the storage as failing. */
export const MIN_FREE_DISK_BYTES = 1024 * 1024;

export type StorageState = { ok: true } | { ok: false; reason: string };

/**
 * Whether the database can still write. A write that failed for lack of space is remembered
 * until a later write succeeds (SQLite may still answer reads, and a WAL file can keep taking
 * small writes into space it already holds, so neither a read nor a tiny write proves much);
 * the free space of the disk is also checked on each call, which costs one statfs.
 */
export function createStorageHealth(file: string) {
  let failure: { at: Date; code: string } | null = null;
  const onDisk = file !== ':memory:' && file !== '';

  return {
    failed(code: string, at = new Date()): void {
      failure = { at, code };
    },
    succeeded(): void {
      failure = null;
    },
    state(): StorageState {
      if (failure) {
        return { ok: false, reason: `écriture impossible depuis ${failure.at.toISOString()} (${failure.code}) : disque plein ?` };
      }
      if (onDisk) {
        const stats = statfsSync(dirname(file));
        const free = stats.bavail * stats.bsize;
        if (free < MIN_FREE_DISK_BYTES) return { ok: false, reason: `disque presque plein : ${free} octets libres` };
      }
      return { ok: true };
    },
  };
}

export type StorageHealth = ReturnType<typeof createStorageHealth>;
