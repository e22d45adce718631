import { openSqlite } from '@ventesync/runtime/sqlite';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/**
 * Money sums (README, money rule): one sale is at most 2^53 centimes, so a day's or a history's
 * sum can pass both 2^53 (JavaScript numbers) and 2^63 (SQLite's SUM fails with "integer
 * overflow", a column updated past it turns REAL). Every sum of amounts is therefore
 * `somme_centimes(x)`: exact, as the decimal text of the integer, read with BigInt().
 */
export const SOMME_CENTIMES = 'somme_centimes';

export function openDatabase(file: string): Db {
  const db = openSqlite((path) => new Database(path), file, MIGRATIONS);
  registerMoneySums(db);
  return db;
}

/** Defines `somme_centimes` on a connection (again is harmless): the app does it on the one it is given. */
export function registerMoneySums(db: Db): void {
  db.aggregate(SOMME_CENTIMES, {
    start: () => 0n,
    step: (total: bigint, value: unknown) => (value === null ? total : total + BigInt(value as bigint)),
    result: (total: bigint) => total.toString(),
    deterministic: true,
    // Each value as a bigint: a row of chiffres_jour can itself pass 2^53.
    safeIntegers: true,
  });
}
