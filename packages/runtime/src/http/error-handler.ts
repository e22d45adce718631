import { codeOfStatus, errorBody, type RequestErrorCode, statusOf } from '@ventesync/shared';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/** Seconds a client should wait before sending again when the database is busy. */
export const BUSY_RETRY_AFTER_SECONDS = 1;
/** Seconds before trying again when the disk is full: a person has to free space first. */
export const STORAGE_FULL_RETRY_AFTER_SECONDS = 60;
/** Seconds before trying again after an I/O error: the disk may be failing, a person should look. */
export const STORAGE_ERROR_RETRY_AFTER_SECONDS = 30;

/** `busy`: try again; `full`: no space left; `io`: the disk refused a read or write for another reason. */
export type StorageFailure = 'busy' | 'full' | 'io';

/** Only these mean "no space": SQLite turns ENOSPC on a write into SQLITE_FULL. */
const FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/**
 * SQLite's extended codes come through better-sqlite3 as `SQLITE_BUSY_SNAPSHOT`,
 * `SQLITE_BUSY_RECOVERY`, `SQLITE_BUSY_TIMEOUT`…: all mean "try again". A full disk shows as
 * `SQLITE_FULL` or as `ENOSPC`/`EDQUOT` from the file system; any other I/O error
 * (`SQLITE_IOERR_*`, `EIO`) is a failing disk, not a full one, and is said so.
 */
export function storageFailureOf(error: unknown): StorageFailure | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_')) return 'busy';
  // The server's storage interface says so for a database it cannot reach for now (storage.ts).
  if (code === 'STORAGE_UNAVAILABLE') return 'busy';
  if (FULL_CODES.has(code)) return 'full';
  if (code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR_') || code === 'EIO') return 'io';
  return null;
}

/** What an error becomes on the wire: one answer, whoever raised it. */
export interface ErrorAnswer {
  status: number;
  body: ReturnType<typeof errorBody>;
  retryAfterSeconds?: number;
  storage?: StorageFailure;
}

interface KnownError {
  code: RequestErrorCode;
  message: string;
  extra?: Record<string, unknown>;
}

/** What a batch request carries, for the words of its errors: returns on the returns endpoint. */
export type BatchItems = 'ventes' | 'retours';
const itemsOf = (url: string): BatchItems => (/\/retours\/?$/.test(url.split('?')[0] ?? url) ? 'retours' : 'ventes');

/**
 * The one mapping from errors raised by fastify or Node (by their `code`) to the contract's
 * codes, in French. Node's `HPE_*` parser errors not named here are BAD_REQUEST.
 */
function knownErrors(maxBodyBytes: number, items: BatchItems = 'ventes'): Record<string, KnownError> {
  return {
    FST_ERR_CTP_BODY_TOO_LARGE: {
      code: 'PAYLOAD_TOO_LARGE',
      message: `Requête trop volumineuse : ${maxBodyBytes} octets au maximum (5 Mio). Envoyez les ${items} par lots.`,
      extra: { limit: maxBodyBytes },
    },
    FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Type de contenu non pris en charge : envoyez du JSON' },
    FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON', message: `Corps de requête vide : un tableau JSON de ${items} est attendu` },
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_JSON', message: 'Corps de requête incomplet (Content-Length incorrect)' },
    FST_ERR_BAD_URL: { code: 'BAD_REQUEST', message: 'Adresse invalide : elle contient un encodage incorrect' },
    FST_ERR_MAX_PARAM_LENGTH: { code: 'URI_TOO_LONG', message: 'Adresse trop longue' },
    ERR_HTTP_REQUEST_TIMEOUT: { code: 'REQUEST_TIMEOUT', message: 'Requête trop lente : en-têtes ou corps non reçus à temps' },
    HPE_HEADER_OVERFLOW: { code: 'HEADERS_TOO_LARGE', message: 'En-têtes de requête trop volumineux' },
  };
}

/**
 * Whose disk a storage failure is on, and who can free it, in the words of the answer: the
 * central server's own (the default), or the relay's, which runs on the shop's computer.
 */
export interface StorageWording {
  /** Completes "Le disque …": `du serveur`. */
  disk: string;
  /** Completes "prévenez …": `l'administrateur`. */
  tell: string;
}

export const SERVER_STORAGE_WORDING: StorageWording = Object.freeze({ disk: 'du serveur', tell: "l'administrateur" });

function storageAnswers(w: StorageWording): Record<StorageFailure, { code: RequestErrorCode; message: string; retryAfterSeconds: number }> {
  return {
    busy: { code: 'SERVICE_UNAVAILABLE', message: 'Base de données occupée, réessayez dans un instant', retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS },
    full: {
      code: 'STORAGE_FULL',
      message: `Le disque ${w.disk} est plein : rien de cette requête n'a été enregistré. Renvoyez-la plus tard ; prévenez ${w.tell}.`,
      retryAfterSeconds: STORAGE_FULL_RETRY_AFTER_SECONDS,
    },
    io: {
      code: 'STORAGE_ERROR',
      message:
        `Le disque ${w.disk} a refusé une lecture ou une écriture (erreur d'entrée-sortie) : rien de cette requête n'a été enregistré. ` +
        `Renvoyez-la plus tard ; prévenez ${w.tell} (disque défaillant ?).`,
      retryAfterSeconds: STORAGE_ERROR_RETRY_AFTER_SECONDS,
    },
  };
}

/**
 * Every error as the answer it gets: a contract code set by our own code, then the known
 * fastify/Node errors, storage failures (503 busy, 507 full, 503 I/O error, with Retry-After),
 * any other 4xx by its status, and `fallback` for the rest (a 500 inside a route).
 */
export function answerOf(
  error: unknown,
  maxBodyBytes: number,
  fallback: KnownError = { code: 'INTERNAL_ERROR', message: 'Erreur interne du serveur' },
  wording: StorageWording = SERVER_STORAGE_WORDING,
  items: BatchItems = 'ventes',
): ErrorAnswer {
  const e = (error ?? {}) as { code?: unknown; ventesyncCode?: RequestErrorCode; statusCode?: unknown; message?: unknown; retryAfterSeconds?: unknown };
  const answer = (known: KnownError, more: Partial<ErrorAnswer> = {}): ErrorAnswer => ({
    status: statusOf(known.code),
    body: errorBody(known.code, known.message, known.extra),
    ...more,
  });
  // retryAfterSeconds: a code raised by our own storage layer that is worth retrying (PostgreSQL away: 503).
  if (e.ventesyncCode) {
    const retry = typeof e.retryAfterSeconds === 'number' ? { retryAfterSeconds: e.retryAfterSeconds } : {};
    return answer({ code: e.ventesyncCode, message: String(e.message) }, retry);
  }
  const code = typeof e.code === 'string' ? e.code : '';
  const known = knownErrors(maxBodyBytes, items)[code];
  if (known) return answer(known);
  if (code.startsWith('HPE_')) return answer({ code: 'BAD_REQUEST', message: 'Requête HTTP mal formée' });
  const storage = storageFailureOf(error);
  if (storage) {
    const known = storageAnswers(wording)[storage];
    return answer(known, { retryAfterSeconds: known.retryAfterSeconds, storage });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return answer({ code: codeOfStatus(e.statusCode), message: `Requête invalide : ${String(e.message)}` });
  }
  return answer(fallback);
}

function send(reply: FastifyReply, answer: ErrorAnswer) {
  if (answer.retryAfterSeconds !== undefined) reply.header('retry-after', String(answer.retryAfterSeconds));
  return reply.code(answer.status).send(answer.body);
}

/** A whole HTTP/1.1 answer as bytes, for a socket no response object owns; the connection then closes. */
export function rawAnswer(answer: Pick<ErrorAnswer, 'status' | 'body'>): string {
  const body = JSON.stringify(answer.body);
  return (
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

export interface ErrorHandlingOptions {
  maxBodyBytes: number;
  /** Told of every storage failure (busy, full, I/O), e.g. so that `/health` can report it. */
  onStorageFailure?: (failure: StorageFailure, error: unknown) => void;
  /** Whose disk a full or failing disk is, in the answer (default: the server's). */
  storageWording?: StorageWording;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** A route's URL pattern as a test on a request path: `:param` is one segment, `*` anything. */
function patternOf(url: string): RegExp {
  const source = url
    .replace(/\/+$/, '')
    .split(/(\*|:[A-Za-z0-9_]+(?:\([^)]*\))?)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`);
}

/**
 * Turns every failure into `{error, code}` JSON: known client errors keep their 4xx status,
 * a busy database is 503, a full disk 507, a failing disk 503 (all with Retry-After), anything
 * unexpected becomes a 500 that is logged with the request and leaks nothing.
 */
export function registerErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions): void {
  // The routes' methods, kept as they are declared: the 405 lookup tests the client's path
  // against them and never hands that path to the router as a pattern (`*`, `:a(` gave 500).
  const routes: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, pattern: patternOf(route.url ?? route.path) });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = answerOf(error, options.maxBodyBytes, undefined, options.storageWording, itemsOf(request.url));
    if (answer.storage) {
      options.onStorageFailure?.(answer.storage, error);
      if (answer.storage === 'busy') request.log.warn({ err: error }, 'base de données occupée');
      else request.log.error({ err: error }, answer.storage === 'full' ? 'disque plein : écriture impossible' : 'erreur disque : écriture impossible');
    } else if (answer.status === 503 && answer.retryAfterSeconds !== undefined) {
      // Said and to be sent again (PostgreSQL restarting, writes given up on conflicts): expected
      // during an outage, one per request, so a warning with its cause, not an "unexpected" stack.
      const cause = (error as { cause?: unknown }).cause;
      request.log.warn({ code: answer.body.code, cause }, String(error.message));
    } else if (answer.status >= 500) {
      request.log.error({ err: error }, 'erreur inattendue');
    }
    return send(reply, answer);
  });

  app.setNotFoundHandler((request, reply) => {
    // A known path asked with another method is 405, with the methods it does accept.
    const path = request.url.split('?')[0] ?? request.url;
    const allowed = METHODS.filter(
      (method) => method !== request.method && routes.some((route) => route.method === method && route.pattern.test(path)),
    );
    if (allowed.length > 0) {
      return reply
        .code(statusOf('METHOD_NOT_ALLOWED'))
        .header('allow', allowed.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', `Méthode ${request.method.slice(0, 20)} non acceptée ici : ${allowed.join(', ')}`));
    }
    return reply
      .code(statusOf('NOT_FOUND'))
      .send(errorBody('NOT_FOUND', `Route introuvable : ${request.method.slice(0, 20)} ${path.slice(0, 200)}`));
  });
}

/** For fastify's `frameworkErrors`: errors raised before routing (a URL that does not decode). */
export function frameworkErrorHandler(maxBodyBytes: number) {
  return (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) =>
    send(reply, answerOf(error, maxBodyBytes, { code: 'BAD_REQUEST', message: 'Requête invalide' }));
}

/**
 * For fastify's `clientErrorHandler`: what Node refuses before any request exists (headers too
 * large, a malformed header, a client too slow to send its request) is answered in JSON with a
 * code too, then the connection is closed. Logged at info: a misbehaving client leaves a trace.
 */
export function clientErrorHandler(logger: Pick<Logger, 'info'> | null, maxBodyBytes: number) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const answer = answerOf(error, maxBodyBytes, { code: 'BAD_REQUEST', message: 'Requête HTTP mal formée' });
    const { status } = answer;
    logger?.info(
      { status, code: answer.body.code, cause: error.code, remote: socket.remoteAddress },
      `Requête refusée avant lecture : ${status} ${answer.body.code}`,
    );
    closeWith(socket, answer);
  };
}

/** Writes `answer` on a socket whose response nobody else writes, then closes it. */
export function closeWith(socket: Socket, answer: Pick<ErrorAnswer, 'status' | 'body'>): void {
  if (socket.writable) socket.end(rawAnswer(answer));
  socket.destroySoon();
  // A client that does not read what is left is not waited for.
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/** How long a socket being closed after a last answer may take to flush it. */
export const CLOSE_GRACE_MS = 2_000;

/** A client error raised from our own code (parsers, hooks), with its contract code. */
export function clientError(code: RequestErrorCode, message: string): Error & { ventesyncCode: RequestErrorCode; statusCode: number } {
  return Object.assign(new Error(message), { ventesyncCode: code, statusCode: statusOf(code) });
}
