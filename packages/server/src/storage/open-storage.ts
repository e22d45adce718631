import { DAEMON_BUSY_TIMEOUT_MS } from '@ventesync/runtime/sqlite';
import { openDatabase } from '../db/open-database.js';
import { createSqliteStorage } from './sqlite-storage.js';
import type { Storage } from './storage.js';

/** `--db` / VENTESYNC_DB: these prefixes select PostgreSQL; anything else is a SQLite file. */
const POSTGRES_PREFIXES = ['postgres://', 'postgresql://'] as const;

export function isPostgresUrl(target: string): boolean {
  const lower = target.trim().toLowerCase();
  return POSTGRES_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/**
 * What a message or a log line may say of the target: the file, or the URL without its
 * password (an operator pastes these lines in tickets). null for a URL that does not parse.
 */
export function describeTarget(target: string): string | null {
  if (!isPostgresUrl(target)) return target;
  try {
    const url = new URL(target);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return null;
  }
}

/** The host and port (and database) a PostgreSQL URL names, for a person reading an error. */
function postgresPlace(target: string): string {
  try {
    const url = new URL(target);
    const base = decodeURIComponent(url.pathname.replace(/^\//, ''));
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${base ? `, base ${base}` : ''}`;
  } catch {
    return '?';
  }
}

/** SQLite's errors an operator can act on, said plainly; anything else as it comes. */
export function explainStorageError(error: unknown): string {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (code.startsWith('SQLITE_BUSY')) return 'la base est occupée par un autre programme (le serveur écrit ?) : réessayez dans un instant';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'le disque est plein : rien n’a été enregistré';
  if (code === 'SQLITE_READONLY' || code === 'EACCES') return `écriture refusée (${code}) : vérifiez les droits sur le fichier de la base`;
  if (code === 'SQLITE_CANTOPEN') return 'fichier impossible à ouvrir (dossier absent ou droits insuffisants ?)';
  if (code === 'SQLITE_NOTADB') return 'ce fichier n’est pas une base SQLite';
  return error instanceof Error ? error.message : String(error);
}

/**
 * Why a database could not be opened: these, or the backend's own code when it said why for a
 * person already (PostgreSQL: DATABASE_UNREACHABLE, DATABASE_AUTH_FAILED, DATABASE_SCHEMA_TOO_NEW…).
 */
export type OpenFailureCode = 'STORAGE_OPEN_FAILED' | 'INVALID_DATABASE_URL' | `DATABASE_${string}`;

export type OpenStorageResult = { ok: true; storage: Storage } | { ok: false; code: OpenFailureCode; erreur: string };

export interface OpenStorageOptions {
  /** The HTTP server: a lock held by another process costs a short wait, then 503 (SQLite). */
  server?: boolean;
}

/**
 * Opens what `--db` names: a `postgres://` or `postgresql://` URL is PostgreSQL, anything else
 * a SQLite file (made if absent, migrated either way). A failure is data: a French message
 * naming the file or the host, never the password, never a stack.
 */
export async function openStorage(target: string, options: OpenStorageOptions = {}): Promise<OpenStorageResult> {
  if (!isPostgresUrl(target)) {
    try {
      const db = openDatabase(target);
      return { ok: true, storage: createSqliteStorage(db, options.server ? { busyTimeoutMs: DAEMON_BUSY_TIMEOUT_MS } : {}) };
    } catch (error) {
      return { ok: false, code: 'STORAGE_OPEN_FAILED', erreur: `base ${target} : ${explainStorageError(error)}` };
    }
  }
  const shown = describeTarget(target);
  if (shown === null) {
    return { ok: false, code: 'INVALID_DATABASE_URL', erreur: 'adresse PostgreSQL invalide (attendu : postgres://utilisateur@hôte:port/base)' };
  }
  // Loaded only for a PostgreSQL URL: a SQLite server never loads the driver.
  const { createPgStorage } = await import('../postgres/pg-storage.js');
  try {
    return { ok: true, storage: await createPgStorage(target) };
  } catch (error) {
    // A driver's message may quote the URL: its password is taken out.
    const password = safePassword(target);
    let said = error instanceof Error ? error.message : String(error);
    if (password) said = said.split(password).join('***');
    // A refusal the backend already said for a person (naming the host) is passed on as it is.
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('DATABASE_')) return { ok: false, code: code as OpenFailureCode, erreur: said };
    return { ok: false, code: 'STORAGE_OPEN_FAILED', erreur: `PostgreSQL injoignable (${postgresPlace(target)}) : ${said}` };
  }
}

function safePassword(target: string): string {
  try {
    return decodeURIComponent(new URL(target).password);
  } catch {
    return '';
  }
}
