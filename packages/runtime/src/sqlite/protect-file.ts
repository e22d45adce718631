import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';

/** Owner read and write only: the server's and the relay's files hold secrets. */
export const PRIVATE_FILE_MODE = 0o600;

/** The file and the journal SQLite keeps beside it. */
const withJournal = (file: string) => [file, `${file}-wal`, `${file}-shm`];

/**
 * Creates the database file empty with mode 0600 before SQLite opens it, whatever the umask:
 * SQLite would create it 0644 (umask 022) and gives its -wal and -shm the main file's mode.
 * An existing file is left as it is (see looselyProtected).
 */
export function createPrivately(file: string): void {
  if (file === ':memory:' || file === '') return;
  try {
    closeSync(openSync(file, 'wx', PRIVATE_FILE_MODE));
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
  }
}

/**
 * The relay's own file (and its journal) readable by this machine's user only: it holds every
 * sale and the tills' secrets (encrypted, still nobody else's business). Set on each start:
 * the daemon made this file, the operator has no reason to share it. A file on a disk that
 * does not keep modes (a FAT key) is left as it is.
 */
export function protectRelayFile(file: string): void {
  if (file === ':memory:' || file === '') return;
  for (const path of withJournal(file)) {
    try {
      if (existsSync(path)) chmodSync(path, PRIVATE_FILE_MODE);
    } catch {
      // Not ours to change (another owner, a read-only mount): the relay works as before.
    }
  }
}

/** The paths among `paths` (those that exist) readable or writable by group or others, with their mode. */
export function looselyProtected(paths: readonly string[]): Array<{ path: string; mode: string }> {
  const loose: Array<{ path: string; mode: string }> = [];
  for (const path of paths) {
    try {
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o077) !== 0) loose.push({ path, mode: mode.toString(8).padStart(3, '0') });
    } catch {
      // Absent (no journal yet): nothing to say.
    }
  }
  return loose;
}

/** The database file and its journal, when more open than 0600. */
export const looselyProtectedDatabase = (file: string) => (file === ':memory:' || file === '' ? [] : looselyProtected(withJournal(file)));
