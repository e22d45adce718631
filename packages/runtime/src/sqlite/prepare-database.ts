import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPrivately } from './protect-file.js';

/** The few better-sqlite3 methods this needs, so that runtime does not depend on the addon. */
export interface SqliteLike {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(source: string): unknown;
  transaction(fn: () => void): { immediate: () => void };
}

/**
 * How long a one-shot command (import, stock add…) waits for a database another process is
 * writing: a person is waiting, and a few seconds of a busy server are worth waiting out.
 */
export const CLI_BUSY_TIMEOUT_MS = 5_000;

/**
 * How long a long-running process (the server, the relay daemon) waits for a lock. The wait is
 * synchronous in better-sqlite3: it freezes the event loop, every request and `/health` with
 * it. Past this short wait the request is answered 503 with Retry-After instead.
 */
export const DAEMON_BUSY_TIMEOUT_MS = 200;

/** Sets how long every statement of `db` waits for another process's lock before SQLITE_BUSY. */
export function setBusyTimeout(db: Pick<SqliteLike, 'pragma'>, ms: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
}

/**
 * Sets the pragmas every ventesync database needs and applies the schema versions it lacks
 * (`PRAGMA user_version` counts them). better-sqlite3 leaves WAL at synchronous=NORMAL, which
 * can lose the last commits on power loss; an answered sale must survive that, hence FULL.
 */
export function prepareDatabase(db: SqliteLike, migrations: readonly string[]): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // Long enough for a command; a daemon shortens it once open (setBusyTimeout).
  setBusyTimeout(db, CLI_BUSY_TIMEOUT_MS);
  // Long-running processes: keep the WAL file from growing without bound between checkpoints.
  db.pragma('journal_size_limit = 67108864');
  const newer = (version: number) =>
    new Error(`La base est au schéma ${version}, plus récent que ce programme (${migrations.length}) : mettez ventesync à jour.`);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) throw newer(current);
  for (let applied = current < migrations.length; applied; ) {
    applied = false;
    db.transaction(() => {
      // Read again under the write lock: another process opening the same new file at the
      // same moment (the server and a CLI command) may have applied this version meanwhile.
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > migrations.length) throw newer(version);
      if (version === migrations.length) return;
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
      applied = true;
    }).immediate();
  }
}

/**
 * Opens (creating it and its folder if needed) a database file and brings its schema up to
 * date. `open` is better-sqlite3's constructor, passed in so that runtime does not load the addon.
 */
export function openSqlite<D extends SqliteLike>(open: (file: string) => D, file: string, migrations: readonly string[]): D {
  if (file !== ':memory:') {
    mkdirSync(dirname(file), { recursive: true });
    // Secrets live in it: never readable by others, even for a moment after it is made.
    createPrivately(file);
  }
  const db = open(file);
  prepareDatabase(db, migrations);
  return db;
}

/**
 * A write that proves SQLite can allocate again (after a full disk or an I/O error): a table
 * created and rolled back, so nothing stays. Throws as a real write would. Inside an open
 * transaction it does nothing (that transaction's own write will tell).
 */
export function probeSqliteWrite(db: { inTransaction: boolean; exec(source: string): unknown }): void {
  if (db.inTransaction) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE sonde_ecriture (x)');
  } finally {
    db.exec('ROLLBACK');
  }
}
