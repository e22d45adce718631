import { closeSync, fsyncSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Below this much free space on the database's disk, `/health` reports the storage as failing. */
export const MIN_FREE_DISK_BYTES = 1024 * 1024;
/** While failing, `/health` tries a real write at most this often to see whether the disk is back. */
export const WRITE_PROBE_INTERVAL_MS = 5_000;
/** The probe file's size: a WAL can take a page into space it holds, never this much fresh space. */
export const WRITE_PROBE_BYTES = 64 * 1024;

export type StorageState = { ok: true } | { ok: false; reason: string };
export type StorageFailureKind = 'full' | 'io';

/**
 * Writes, syncs and removes a small file next to the database: the disk takes new writes.
 * Throws as the file system does (ENOSPC, EIO…).
 */
export function probeDiskWrite(file: string): void {
  const probe = join(dirname(file), `.ventesync-sonde-${process.pid}`);
  try {
    const fd = openSync(probe, 'w');
    try {
      writeSync(fd, Buffer.alloc(WRITE_PROBE_BYTES));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * Whether the database can still write. A write that failed (disk full, I/O error) is
 * remembered: SQLite may still answer reads, and a WAL file can keep taking small writes into
 * space it already holds, so neither proves much. The failure clears as soon as a write is
 * seen to succeed: a sale written, or, at most every WRITE_PROBE_INTERVAL_MS while `/health` is
 * asked, `probeWrite` (a real write: fresh disk space and the database's own). The free space
 * of the disk is also checked on each call, which costs one statfs.
 */
export function createStorageHealth(file: string, probeWrite: () => void | Promise<void>, now: () => number = Date.now) {
  let failure: { at: number; code: string; kind: StorageFailureKind } | null = null;
  let lastAttempt = 0;
  const onDisk = file !== ':memory:' && file !== '';

  return {
    failed(code: string, kind: StorageFailureKind = 'full'): void {
      lastAttempt = now();
      failure = { at: lastAttempt, code, kind };
    },
    succeeded(): void {
      failure = null;
    },
    async state(): Promise<StorageState> {
      if (failure && now() - lastAttempt >= WRITE_PROBE_INTERVAL_MS) {
        lastAttempt = now();
        try {
          await probeWrite();
          failure = null;
        } catch {
          // Still failing: said below.
        }
      }
      if (failure) {
        const since = new Date(failure.at).toISOString();
        const guess = failure.kind === 'full' ? 'disque plein ?' : "erreur d'entrée-sortie : disque défaillant ?";
        return { ok: false, reason: `écriture impossible depuis ${since} (${failure.code}) : ${guess}` };
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
