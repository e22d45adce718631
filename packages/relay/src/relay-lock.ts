import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { commandNames } from './command-names.js';

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

export const lockFileOf = (dbFile: string) => `${dbFile}.lock`;

export function lockRelayFile(dbFile: string): LockResult {
  if (dbFile === ':memory:') return { ok: true, lock: { release() {} } };
  const file = lockFileOf(dbFile);
  mkdirSync(dirname(file), { recursive: true });
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
