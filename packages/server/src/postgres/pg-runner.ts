import type pg from 'pg';
import { isDatabaseGone, storageErrorOf, withRetriedTransaction } from './pg-connect.js';

/**
 * One SQL statement, written out once: pg prepares a named statement on each connection the
 * first time it runs there, then only binds and executes it. Names are unique across the
 * server (prefix per module: vs_cat_, vs_rel_, vs_aud_…).
 */
export interface PgStatement {
  name: string;
  text: string;
}

/**
 * Where a module's statements run: the pool (each call its own connection, each transaction
 * its own) or one connection inside a transaction already open (an audited CLI change, an
 * import). The modules are written once against this and work on both.
 */
export interface PgRunner {
  readonly where: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(statement: PgStatement, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * `fn` in one transaction: on the pool a new one (retried whole after a deadlock or a
   * serialization failure); inside a transaction, that same one.
   */
  transaction<T>(fn: (tx: PgRunner) => Promise<T>): Promise<T>;
  /**
   * `fn` whole or not at all, even inside a transaction that goes on after it fails (a savepoint
   * there; on the pool, a transaction).
   */
  allOrNothing<T>(fn: (tx: PgRunner) => Promise<T>): Promise<T>;
}

export function poolRunner(pool: pg.Pool, where: string): PgRunner {
  return {
    where,
    async query<R extends pg.QueryResultRow>(statement: PgStatement, values: unknown[] = []) {
      try {
        return await pool.query<R>({ name: statement.name, text: statement.text, values });
      } catch (error) {
        throw storageErrorOf(error, where);
      }
    },
    transaction: (fn) => withRetriedTransaction(pool, where, (client) => fn(clientRunner(client, where))),
    allOrNothing: (fn) => withRetriedTransaction(pool, where, (client) => fn(clientRunner(client, where))),
  };
}

/**
 * Statements on one connection, inside its open transaction (its caller commits or rolls back).
 * A transaction asked inside it joins it (no savepoint: past 64 subtransactions in one
 * transaction every session slows, and an import would make one per row); `allOrNothing`
 * makes the one savepoint a step needs when its caller goes on after it fails.
 */
export function clientRunner(client: pg.ClientBase, where: string): PgRunner {
  let depth = 0;
  const runner: PgRunner = {
    where,
    query: <R extends pg.QueryResultRow>(statement: PgStatement, values: unknown[] = []) =>
      client.query<R>({ name: statement.name, text: statement.text, values }),
    transaction: (fn) => fn(runner),
    async allOrNothing(fn) {
      const savepoint = `vs_etape_${++depth}`;
      try {
        await client.query(`SAVEPOINT ${savepoint}`);
        const result = await fn(runner);
        await client.query(`RELEASE SAVEPOINT ${savepoint}`);
        return result;
      } catch (error) {
        if (!isDatabaseGone(error)) await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`).catch(() => {});
        throw error;
      } finally {
        depth--;
      }
    },
  };
  return runner;
}

/**
 * A BIGINT as the SQLite module returns it: a number. pg gives BIGINT as text (it may pass
 * 2^53); a value past Number.MAX_SAFE_INTEGER is refused as better-sqlite3 refuses it, never
 * rounded.
 */
export function int(value: string | number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`Entier trop grand pour JavaScript : ${value}`);
  return n;
}
