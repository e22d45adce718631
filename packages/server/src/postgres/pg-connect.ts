import pg from 'pg';
import { isPostgresUrl } from '../storage/open-storage.js';
import { STORAGE_UNAVAILABLE } from '../storage/storage.js';

/**
 * The server's connection to PostgreSQL (issue 13): the URL checked before anything is tried,
 * one bounded pool, and every connection failure said in French naming the host and port,
 * never as a stack. `where` is the URL without its password: the only form ever printed or
 * logged.
 */

/** Connections one server instance holds at most. Several instances share one PostgreSQL
 *  (max_connections 100 by default): a few each leaves room for the CLI, backups and psql. */
export const PG_POOL_MAX = 10;
/** A connection not made in this time counts as "unreachable" (a firewall that drops packets). */
export const PG_CONNECT_TIMEOUT_MS = 5_000;
/**
 * A query not answered in this time is given up and its connection dropped (the request is
 * answered 503 DATABASE_FAILING). A network that silently drops packets (a cut link, a frozen
 * firewall: no RST) otherwise holds the request, its connection and its boutique's write slot
 * until the system gives up on the socket, a quarter of an hour later. Far above any query of
 * ours (a write transaction waits on its boutique lock for other short transactions only), and
 * short enough that a request queued behind a stalled one is still answered, 503, before the
 * HTTP connection's idle timeout (30 s, socketIdleTimeoutMs) closes it without an answer.
 */
export const PG_QUERY_TIMEOUT_MS = 10_000;
/** An idle connection is closed after this long; the pool opens another when needed. */
export const PG_IDLE_TIMEOUT_MS = 30_000;
/**
 * TCP keepalive starts probing an idle connection after this long: a database host gone
 * silently (a cut cable, no RST) is found by the system's probes rather than after hours.
 */
export const PG_KEEPALIVE_DELAY_MS = 10_000;
/** Seconds a till should wait before sending again while the database is away (503). */
export const PG_UNAVAILABLE_RETRY_AFTER_SECONDS = 2;
/** What the server calls itself in pg_stat_activity, so that a DBA sees whose connections they are. */
export const PG_APPLICATION_NAME = 'ventesync-server';
const DEFAULT_PORT = 5432;

export type PgConnectErrorCode =
  | 'DATABASE_URL_INVALID'
  | 'DATABASE_UNREACHABLE'
  | 'DATABASE_AUTH_FAILED'
  | 'DATABASE_NOT_FOUND'
  | 'DATABASE_REFUSED'
  | 'DATABASE_SCHEMA_TOO_NEW'
  | 'DATABASE_MIGRATION_FAILED';

/** A refusal at start: the message names the host and port, and says what to check. */
export class PgConnectError extends Error {
  constructor(
    readonly code: PgConnectErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PgConnectError';
  }
}

export interface PgTarget {
  /** postgres://user@host:port/base: the URL without its password. */
  where: string;
  host: string;
  port: number;
  user: string | null;
  database: string;
  /** For pg: the URL as given (pg reads sslmode and the like from it). */
  connectionString: string;
}

/** A bracketed IPv6 host keeps its brackets in `where`, so that host:port reads unambiguously. */
const hostPort = (t: Pick<PgTarget, 'host' | 'port'>) => `${t.host}:${t.port}`;

export function parsePgUrl(text: string): { ok: true; target: PgTarget } | { ok: false; erreur: string } {
  const bad = (why: string) => ({ ok: false as const, erreur: `URL PostgreSQL invalide (${why}) : attendu postgres://utilisateur:motdepasse@hôte:port/base` });
  if (!isPostgresUrl(text)) return bad('elle doit commencer par postgres://');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return bad('illisible');
  }
  if (url.hostname === '') return bad("pas d'hôte");
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return bad(`port ${url.port}`);
  const path = url.pathname.replace(/^\//, '');
  if (path === '' || path.includes('/')) return bad('nom de base absent ou avec un « / »');
  let database: string;
  let user: string | null;
  try {
    database = decodeURIComponent(path);
    user = url.username === '' ? null : decodeURIComponent(url.username);
  } catch {
    return bad('encodage % incorrect');
  }
  const shown = new URL(text);
  shown.password = '';
  const where = `postgres://${user === null ? '' : `${url.username}@`}${url.hostname}:${port}/${path}${shown.search}`;
  return { ok: true, target: { where, host: url.hostname, port, user, database, connectionString: text } };
}

/** Errors at connect time whose `code` says the host cannot be reached at all. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/**
 * What a failed first connection means, for people: unreachable, wrong password, no such
 * database, or another refusal, each naming host:port. Never the stack, never the password.
 */
export function connectErrorOf(error: unknown, target: PgTarget): PgConnectError {
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const at = hostPort(target);
  const user = target.user ?? '(utilisateur par défaut)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new PgConnectError('DATABASE_UNREACHABLE', `PostgreSQL injoignable à ${at} : nom d'hôte « ${target.host} » inconnu (vérifiez l'URL de la base)`);
  }
  if (code === 'ECONNREFUSED') {
    return new PgConnectError(
      'DATABASE_UNREACHABLE',
      `PostgreSQL injoignable à ${at} : connexion refusée (PostgreSQL est-il démarré et écoute-t-il sur ce port ?)`,
    );
  }
  if (UNREACHABLE_CODES.has(code) || /timeout|timed out/i.test(message) || /Connection terminated unexpectedly/i.test(message)) {
    return new PgConnectError(
      'DATABASE_UNREACHABLE',
      `PostgreSQL injoignable à ${at} : pas de réponse en ${PG_CONNECT_TIMEOUT_MS / 1000} s (${code || 'délai dépassé'} ; pare-feu, réseau ou serveur arrêté ?)`,
    );
  }
  if (code === '28P01') {
    return new PgConnectError('DATABASE_AUTH_FAILED', `PostgreSQL à ${at} refuse le mot de passe de l'utilisateur ${user} : vérifiez l'URL de la base`);
  }
  if (code === '3D000') {
    return new PgConnectError(
      'DATABASE_NOT_FOUND',
      `La base « ${target.database} » n'existe pas sur PostgreSQL à ${at} : créez-la (createdb ${target.database}) ou corrigez l'URL de la base`,
    );
  }
  // The driver's own words when the URL has no password and PGPASSWORD is not set.
  if (/client password must be a string/i.test(message)) {
    return new PgConnectError(
      'DATABASE_AUTH_FAILED',
      `PostgreSQL à ${at} demande un mot de passe pour l'utilisateur ${user} : mettez-le dans l'URL ` +
        `(postgres://${user}:MOT_DE_PASSE@…, caractères spéciaux encodés : @ → %40, : → %3A, / → %2F) ou dans la variable PGPASSWORD`,
    );
  }
  if (/does not support SSL/i.test(message)) {
    return new PgConnectError('DATABASE_REFUSED', `PostgreSQL à ${at} n'accepte pas de connexion chiffrée (SSL) : retirez sslmode de l'URL, ou activez ssl sur ce serveur`);
  }
  if (code === '57P03') {
    return new PgConnectError('DATABASE_UNREACHABLE', `PostgreSQL à ${at} démarre ou s'arrête : réessayez dans un instant`);
  }
  if (code === '28000') {
    return new PgConnectError('DATABASE_AUTH_FAILED', `PostgreSQL à ${at} refuse la connexion de l'utilisateur ${user} (${message})`);
  }
  if (code === '53300') {
    return new PgConnectError('DATABASE_REFUSED', `PostgreSQL à ${at} n'accepte plus de connexions (max_connections atteint)`);
  }
  return new PgConnectError('DATABASE_REFUSED', `Connexion à PostgreSQL (${at}) impossible : ${message}${code ? ` (${code})` : ''}`);
}

/** SQLSTATEs and socket codes that mean the server or the connection went away, not the request's fault. */
const GONE_CODES = new Set([
  ...UNREACHABLE_CODES,
  'EPIPE',
  '57P01', // admin_shutdown: pg_ctl stop, pg_terminate_backend
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '53300', // too_many_connections
]);
const GONE_MESSAGES =
  /Connection terminated|connection error and is not queryable|Client was closed|timeout exceeded when trying to connect|Connection ended|server closed the connection|Query read timeout/i;

/**
 * Whether `error` means "the database is not there right now" (restarted, network cut,
 * connection killed): the request can be sent again, nothing of it is kept (an interrupted
 * transaction is rolled back by PostgreSQL). Class 08 is every connection exception.
 */
export function isDatabaseGone(error: unknown): boolean {
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  // Our own 503 error (databaseUnavailable), already made from such an error.
  if (code === STORAGE_UNAVAILABLE) return true;
  if (GONE_CODES.has(code) || code.startsWith('08')) return true;
  return typeof e.message === 'string' && GONE_MESSAGES.test(e.message);
}

/**
 * SQLSTATEs where PostgreSQL refuses this request for now, its connection still sound: the
 * transaction was rolled back whole and the till may send again (503), never a 500. What each
 * says, for the answer.
 */
const REFUSED_NOW: Record<string, string> = {
  '57014': 'requête annulée (pg_cancel_backend ou statement_timeout)',
  '55P03': 'verrou indisponible (lock_timeout)',
  '25006': 'base en lecture seule (serveur de secours après une bascule ?)',
};
/** Class 53: insufficient resources (disk full, out of memory, too many connections); 58: system error. */
const REFUSED_NOW_CLASSES: Record<string, string> = {
  '53': 'ressources épuisées sur le serveur PostgreSQL',
  '58': 'erreur système du serveur PostgreSQL',
};

/** What PostgreSQL refusing this request for now means (see REFUSED_NOW), or null. */
export function refusedNowReason(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return null;
  return REFUSED_NOW[code] ?? REFUSED_NOW_CLASSES[code.slice(0, 2)] ?? null;
}

/** 40P01 deadlock, 40001 serialization failure: the transaction was rolled back whole; run it again. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * An error the server's error handler answers 503 DATABASE_FAILING with Retry-After; its `code`
 * is the storage interface's STORAGE_UNAVAILABLE (storage.ts), for callers that branch on it.
 */
export interface DatabaseUnavailableError extends Error {
  code: typeof STORAGE_UNAVAILABLE;
  ventesyncCode: 'DATABASE_FAILING';
  retryAfterSeconds: number;
  cause: { code: string | undefined; message: string };
}

/**
 * `unconfirmed`: the connection went away during COMMIT. PostgreSQL may have committed before
 * its answer was lost, so "nothing was recorded" would be false: the till's resend is answered
 * DUPLICATE identique if it was, never written twice.
 */
export function databaseUnavailable(error: unknown, where: string, commit: 'none' | 'unconfirmed' = 'none'): DatabaseUnavailableError {
  const at = where.replace(/^postgres:\/\/([^@/]*@)?/, '').replace(/\/.*$/, '');
  const refused = refusedNowReason(error);
  const failure = new Error(
    refused !== null
      ? `Base de données PostgreSQL (${at}) : ${refused}. Rien de cette requête n'a été enregistré. Réessayez dans ${PG_UNAVAILABLE_RETRY_AFTER_SECONDS} s.`
      : commit === 'none'
      ? `Base de données PostgreSQL (${at}) momentanément injoignable : rien de cette requête n'a été enregistré. Réessayez dans ${PG_UNAVAILABLE_RETRY_AFTER_SECONDS} s.`
      : `Base de données PostgreSQL (${at}) injoignable pendant la validation : enregistrement non confirmé. Renvoyez la même requête dans ${PG_UNAVAILABLE_RETRY_AFTER_SECONDS} s : ce qui a été enregistré sera reconnu (doublon identique), jamais compté deux fois.`,
  ) as DatabaseUnavailableError;
  failure.code = STORAGE_UNAVAILABLE;
  failure.ventesyncCode = 'DATABASE_FAILING';
  failure.retryAfterSeconds = PG_UNAVAILABLE_RETRY_AFTER_SECONDS;
  // Only code and message: logged with the request, and pg may hang its client (with the password) on an error.
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  failure.cause = { code: typeof e.code === 'string' ? e.code : undefined, message: String(e.message ?? error) };
  return failure;
}

/** `error` as it should leave the storage layer: a database gone becomes the 503 above. */
export function storageErrorOf(error: unknown, where: string): unknown {
  if ((error as { code?: unknown } | null)?.code === STORAGE_UNAVAILABLE) return error;
  return isDatabaseGone(error) || refusedNowReason(error) !== null ? databaseUnavailable(error, where) : error;
}

/** pg's refusal to send on a connection already known broken: nothing left, nothing committed. */
const NOT_SENT = /not queryable/i;

/** COMMIT; the connection lost meanwhile is the 503 error saying the outcome is unknown. */
export async function commitOrUnconfirmed(client: pg.ClientBase, where: string): Promise<void> {
  try {
    await client.query('COMMIT');
  } catch (error) {
    if (!isDatabaseGone(error)) throw error;
    const sent = !NOT_SENT.test(String((error as { message?: unknown } | null)?.message));
    throw databaseUnavailable(error, where, sent ? 'unconfirmed' : 'none');
  }
}

export interface PgConnection {
  pool: pg.Pool;
  where: string;
  target: PgTarget;
  close(): Promise<void>;
}

export interface OpenPgOptions {
  max?: number;
  /**
   * Told of errors on idle connections (PostgreSQL restarted, a connection killed), to log.
   * Only the code and message: pg hangs the client on the error, and with it the password.
   */
  onIdleError?: (error: { code: string | undefined; message: string }) => void;
  /** PG_QUERY_TIMEOUT_MS unless said (tests). */
  queryTimeoutMs?: number;
}

/**
 * The pool, once one connection was made and answered: a wrong URL, password or database is
 * refused at start with its French message (a PgConnectError), and the pool closed again.
 */
export async function openPgPool(url: string, options: OpenPgOptions = {}): Promise<PgConnection> {
  const parsed = parsePgUrl(url);
  if (!parsed.ok) throw new PgConnectError('DATABASE_URL_INVALID', parsed.erreur);
  const { target } = parsed;
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: options.max ?? PG_POOL_MAX,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: PG_IDLE_TIMEOUT_MS,
    query_timeout: options.queryTimeoutMs ?? PG_QUERY_TIMEOUT_MS,
    application_name: PG_APPLICATION_NAME,
    keepAlive: true,
    keepAliveInitialDelayMillis: PG_KEEPALIVE_DELAY_MS,
  });
  // An idle connection whose server went away emits 'error' on the pool; unheard, Node would
  // crash the server. The pool has already dropped that connection and opens a new one on the
  // next query.
  pool.on('error', (error: Error & { code?: string }) => options.onIdleError?.({ code: error.code, message: error.message }));
  try {
    const client = await pool.connect();
    try {
      await client.query('SELECT 1');
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw connectErrorOf(error, target);
  }
  return { pool, where: target.where, target, close: () => pool.end() };
}

/**
 * Runs `fn` with one connection of the pool. While held, an error event on it (its server went
 * away between two queries) is heard here rather than crashing the process; a connection that
 * failed is destroyed on release instead of going back to the pool.
 */
export async function withClient<T>(pool: pg.Pool, where: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw storageErrorOf(error, where);
  }
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    if (isDatabaseGone(error)) broken ??= error as Error;
    throw storageErrorOf(error, where);
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/**
 * `fn` inside BEGIN … COMMIT on one connection: any error rolls back and is thrown again
 * (a database gone as the 503 error). Keep `fn` short: its row locks are held until the end.
 */
export async function withTransaction<T>(pool: pg.Pool, where: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, where, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await commitOrUnconfirmed(client, where);
      return result;
    } catch (error) {
      // A connection gone is dropped by withClient and PostgreSQL rolls back by itself; a
      // ROLLBACK there would only wait behind a query given up on (PG_QUERY_TIMEOUT_MS).
      if (!isDatabaseGone(error)) await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  });
}

/** Runs `fn` again (a fresh transaction each time) after a deadlock or serialization failure. */
export const MAX_TRANSACTION_ATTEMPTS = 5;
/**
 * Wait before attempt n+1: up to n × this, at random, so that the two transactions that
 * deadlocked do not meet again at once.
 */
export const RETRY_JITTER_MS = 20;

export async function withRetriedTransaction<T>(pool: pg.Pool, where: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTransaction(pool, where, fn);
    } catch (error) {
      if (!isRetryable(error) || attempt >= MAX_TRANSACTION_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * RETRY_JITTER_MS * attempt));
    }
  }
}
