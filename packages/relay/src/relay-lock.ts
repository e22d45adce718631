import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { commandNames } from '@ventesync/runtime/cli';

/**
 * One relay per file. The lock is an exclusive SQLite transaction held open on a small file
 * beside the relay's own (`relay.db.lock`) for the daemon's whole life: the operating system
 * drops it when the process ends, however it ends (kill -9 included), and it does not depend
 * on PIDs, which get reused. The relay's file itself stays open to the CLI (`status`,
 * `pending`…), which must read it while the daemon runs: an exclusive locking mode on it would
 * shut the CLI out.
 */
export interface RelayLock {
  release(): void;
}

export type LockResult = { ok: true; lock: RelayLock } | { ok: false; erreur: string };

/**
 * The lock beside the file itself, whatever path names it (a symlink, `./data/../data/relay.db`):
 * two paths to one file must meet on one lock. The file is created (empty: SQLite takes an empty
 * file as a new database) so that its real path exists to be resolved.
 */
export function lockFileOf(dbFile: string): string {
  mkdirSync(dirname(resolve(dbFile)), { recursive: true });
  closeSync(openSync(dbFile, 'a'));
  return `${realpathSync(dbFile)}.lock`;
}

export function lockRelayFile(dbFile: string): LockResult {
  if (dbFile === ':memory:') return { ok: true, lock: { release() {} } };
  let file: string;
  try {
    file = lockFileOf(dbFile);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error;
    return { ok: false, erreur: `disque plein, le relais ne peut pas démarrer sur ${dbFile} : libérez de la place sur cet ordinateur.` };
  }
  // timeout 0: a relay already running holds the lock for good, waiting for it is pointless.
  const db = new Database(file, { timeout: 0 });
  try {
    // Nothing is ever written in it: no journal file, so taking the lock needs no disk space.
    db.pragma('journal_mode = OFF');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_FULL') {
      return { ok: false, erreur: `disque plein, le relais ne peut pas démarrer sur ${dbFile} : libérez de la place sur cet ordinateur.` };
    }
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY') || (error as { code?: string }).code === 'SQLITE_LOCKED') {
      return {
        ok: false,
        erreur:
          `un autre relais utilise déjà le fichier ${dbFile}. Un seul relais peut tourner par fichier : ` +
          `arrêtez l'autre d'abord (ou donnez un autre fichier avec --db). « ${commandNames().relay} status » montre celui qui tourne.`,
      };
    }
    throw error;
  }
  return {
    ok: true,
    lock: {
      release() {
        if (!db.open) return;
        db.exec('ROLLBACK');
        db.close();
      },
    },
  };
}
