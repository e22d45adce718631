import { closeSync, openSync, rmSync, writeSync } from 'node:fs';

/**
 * Room kept on the relay's disk, as a file of its own, for the day the disk fills up: given
 * back then, it lets the relay write down that the disk is full (for `status`), where any
 * write would fail otherwise. It is taken again once there is room, and that is how the
 * relay knows the disk is usable again. A few pages of the file's journal are enough for
 * that one fact; more would only delay the moment the relay says the disk is full.
 */
export const DISK_RESERVE_BYTES = 64 * 1024;

export interface DiskReserve {
  /** Makes sure the reserve is there; false when the disk has no room for it. */
  ensure(): boolean;
  /** Gives the room back; false when there was no reserve to give. */
  release(): boolean;
}

export const reserveFileOf = (dbFile: string) => `${dbFile}.reserve`;

export function createDiskReserve(dbFile: string, bytes: number = DISK_RESERVE_BYTES): DiskReserve {
  if (dbFile === ':memory:') return { ensure: () => true, release: () => false };
  const file = reserveFileOf(dbFile);
  let held = false;
  return {
    ensure(): boolean {
      if (held) return true;
      let fd: number | undefined;
      try {
        fd = openSync(file, 'w');
        // Written out, not sparse: the blocks must really be taken.
        const chunk = Buffer.alloc(64 * 1024);
        // A nearly full disk takes part of a write without an error: count what was really written.
        for (let written = 0; written < bytes; ) {
          const n = writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
          if (n <= 0) throw new Error('ENOSPC');
          written += n;
        }
        held = true;
      } catch {
        held = false;
      } finally {
        if (fd !== undefined) closeSync(fd);
        if (!held) rmSync(file, { force: true });
      }
      return held;
    },
    release(): boolean {
      const had = held;
      rmSync(file, { force: true });
      held = false;
      return had;
    },
  };
}
