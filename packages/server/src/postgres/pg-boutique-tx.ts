import type pg from 'pg';
import { commitOrUnconfirmed, isDatabaseGone, isRetryable, withClient } from './pg-connect.js';

/**
 * Most times one write request is run (a fresh transaction each time) after a deadlock (40P01),
 * a serialization failure (40001) or a RetryRequest. Each retry follows a rollback that freed
 * every lock, and the boutique lock makes a second collision unlikely: five is far beyond
 * what a healthy database needs, and a request that still fails is answered as an error.
 */
export const MAX_WRITE_ATTEMPTS = 5;

/**
 * First key of the advisory lock that serialises one boutique's writes (sales and returns)
 * across every server instance: "VE" in ASCII. PostgreSQL keeps two-key locks apart from
 * one-key ones (the migrations' lock), so no other lock of ours can take it.
 */
export const BOUTIQUE_LOCK_SPACE = 0x5645;

/** The lock's second key: an int4. Two boutiques whose ids share it only wait for each other. */
export function boutiqueLockKey(boutiqueId: number): number {
  return boutiqueId % 2_147_483_647;
}

/**
 * The statements that open a boutique's write transaction, sent as one simple query (one round
 * trip): BEGIN, the boutique lock, then the boutique's rules read AFTER the lock (each
 * statement of a simple query takes its own snapshot in READ COMMITTED), so a writer that held
 * the lock before is seen whole. `more`: further statements of the same round trip. Only
 * integers are written into the text (checked here): no value from a request.
 */
export function openBoutiqueSql(boutiqueId: number, more: string[] = []): string {
  if (!Number.isSafeInteger(boutiqueId)) throw new Error(`identifiant de boutique invalide : ${boutiqueId}`);
  return [
    'BEGIN',
    `SELECT pg_advisory_xact_lock(${BOUTIQUE_LOCK_SPACE}, ${boutiqueLockKey(boutiqueId)})`,
    `SELECT fuseau, stock_negatif FROM boutiques WHERE id = ${boutiqueId}`,
    ...more,
  ].join(';\n');
}

/** An integer array literal for openBoutiqueSql's extra statements ('{1,2,3}'). */
export function intArrayLiteral(values: Iterable<number>): string {
  const list = [...values];
  for (const v of list) if (!Number.isSafeInteger(v)) throw new Error(`entier attendu : ${v}`);
  return `'{${list.join(',')}}'`;
}

/**
 * Thrown inside a write to roll it back and run it again: what the transaction found does not
 * match what it decided on (a numero inserted meanwhile by a writer without the boutique lock,
 * a day's total read too late). `reason` is for the counters' readers, never shown to tills.
 */
export class RetryRequest extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RetryRequest';
  }
}

/** Seconds a till should wait after a write given up on conflicts: the next try usually passes. */
export const WRITE_GAVE_UP_RETRY_AFTER_SECONDS = 1;

/**
 * Conflicts on every attempt: nothing of the request was kept. Answered 503 with Retry-After
 * (the error handler reads ventesyncCode), as a busy SQLite: the till sends again, never a 500.
 */
export function writeGaveUp(attempts: number, cause: unknown): Error {
  const error = new Error(
    `Écriture impossible pour l'instant (${attempts} essais en conflit avec d'autres écritures) : rien n'a été enregistré, réessayez dans ${WRITE_GAVE_UP_RETRY_AFTER_SECONDS} s`,
  ) as Error & { ventesyncCode: 'SERVICE_UNAVAILABLE'; retryAfterSeconds: number; cause: unknown };
  error.ventesyncCode = 'SERVICE_UNAVAILABLE';
  error.retryAfterSeconds = WRITE_GAVE_UP_RETRY_AFTER_SECONDS;
  error.cause = cause;
  return error;
}

/**
 * Runs `attempt` on one connection of the pool and commits; any error rolls back (nothing of
 * the request is kept). A deadlock, serialization failure or RetryRequest runs it again, up to
 * MAX_WRITE_ATTEMPTS (then writeGaveUp); `attempt` receives its number (1…) and opens the transaction itself, so
 * that BEGIN travels with its first statements. A database gone is thrown as the 503 error
 * (pg-connect's storageErrorOf, through withClient).
 */
export async function runWriteTransaction<T>(
  pool: pg.Pool,
  where: string,
  onRetry: () => void,
  attempt: (client: pg.PoolClient, n: number) => Promise<T>,
): Promise<T> {
  return withClient(pool, where, async (client) => {
    for (let n = 1; ; n++) {
      try {
        const result = await attempt(client, n);
        await commitOrUnconfirmed(client, where);
        return result;
      } catch (error) {
        // A connection gone is dropped by withClient and PostgreSQL rolls back by itself; a
        // ROLLBACK there would only wait behind a query given up on (PG_QUERY_TIMEOUT_MS).
        if (isDatabaseGone(error)) throw error;
        await client.query('ROLLBACK').catch(() => {});
        const again = error instanceof RetryRequest || isRetryable(error);
        if (!again) throw error;
        if (n >= MAX_WRITE_ATTEMPTS) throw writeGaveUp(n, error);
        onRetry();
      }
    }
  });
}
