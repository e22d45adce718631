import { chmodSync, existsSync } from 'node:fs';

/** Owner read and write only. */
export const RELAY_FILE_MODE = 0o600;

/**
 * The relay's file (and SQLite's journal beside it) readable by this machine's user only:
 * it holds every sale and the tills' secrets (encrypted, still nobody else's business). A file
 * on a disk that does not keep modes (a FAT key) is left as it is.
 */
export function protectRelayFile(file: string): void {
  if (file === ':memory:' || file === '') return;
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if (existsSync(path)) chmodSync(path, RELAY_FILE_MODE);
    } catch {
      // Not ours to change (another owner, a read-only mount): the relay works as before.
    }
  }
}
