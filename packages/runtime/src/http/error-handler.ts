import { errorBody, type RequestErrorCode, REQUEST_ERROR_STATUS, statusOf } from '@ventesync/shared';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

interface KnownError {
  code: RequestErrorCode;
  message: string;
  extra?: Record<string, unknown>;
}

/** Seconds a client should wait before sending again when the database is busy. */
export const BUSY_RETRY_AFTER_SECONDS = 1;
/** Seconds before trying again when the disk is full: a person has to free space first. */
export const STORAGE_FULL_RETRY_AFTER_SECONDS = 60;

export type StorageFailure = 'busy' | 'full';

/**
 * SQLite's extended codes come through better-sqlite3 as `SQLITE_BUSY_SNAPSHOT`,
 * `SQLITE_BUSY_RECOVERY`, `SQLITE_BUSY_TIMEOUT`…: all mean "try again". A full disk shows as
 * `SQLITE_FULL`, as `ENOSPC`/`EDQUOT` from the file system, or as one of the I/O errors SQLite
 * reports when a write or sync of its files cannot complete.
 */
const FULL_CODES = new Set([
  'SQLITE_FULL',
  'ENOSPC',
  'EDQUOT',
  'SQLITE_IOERR_WRITE',
  'SQLITE_IOERR_SHORT_WRITE',
  'SQLITE_IOERR_FSYNC',
  'SQLITE_IOERR_DIR_FSYNC',
  'SQLITE_IOERR_TRUNCATE',
  'SQLITE_IOERR_SHMSIZE',
]);

export function storageFailureOf(error: unknown): StorageFailure | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_')) return 'busy';
  if (FULL_CODES.has(code)) return 'full';
  return null;
}

/** fastify's own client errors, in the contract's codes and in French. */
function fastifyErrors(maxBodyBytes: number): Record<string, KnownError> {
  return {
    FST_ERR_CTP_BODY_TOO_LARGE: {
      code: 'PAYLOAD_TOO_LARGE',
      message: `Requête trop volumineuse : ${maxBodyBytes} octets au maximum (5 Mio). Envoyez les ventes par lots.`,
      extra: { limit: maxBodyBytes },
    },
    FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Type de contenu non pris en charge : envoyez du JSON' },
    FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON', message: 'Corps de requête vide : un tableau JSON de ventes est attendu' },
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_JSON', message: 'Corps de requête incomplet (Content-Length incorrect)' },
    FST_ERR_BAD_URL: { code: 'BAD_REQUEST', message: 'Adresse invalide : elle contient un encodage incorrect' },
    FST_ERR_MAX_PARAM_LENGTH: { code: 'URI_TOO_LONG', message: 'Adresse trop longue' },
  };
}

/** A 4xx status fastify or Node chose, in the vocabulary; an unknown one is a plain 400. */
function codeOfStatus(status: number): RequestErrorCode {
  const byStatus: Partial<Record<number, RequestErrorCode>> = {
    405: 'METHOD_NOT_ALLOWED',
    408: 'REQUEST_TIMEOUT',
    413: 'PAYLOAD_TOO_LARGE',
    414: 'URI_TOO_LONG',
    415: 'UNSUPPORTED_MEDIA_TYPE',
    431: 'HEADERS_TOO_LARGE',
  };
  return byStatus[status] ?? 'BAD_REQUEST';
}

export interface ErrorHandlingOptions {
  maxBodyBytes: number;
  /** Told of every storage failure (busy or full), e.g. so that `/health` can report it. */
  onStorageFailure?: (failure: StorageFailure, error: unknown) => void;
}

/**
 * Turns every failure into `{error, code}` JSON: known client errors keep their 4xx status,
 * a busy database is 503 and a full disk 507 (both with Retry-After), anything unexpected
 * becomes a 500 that is logged with the request and leaks nothing.
 */
export function registerErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions): void {
  const fastifyCodes = fastifyErrors(options.maxBodyBytes);
  app.setErrorHandler((error: FastifyError & { ventesyncCode?: RequestErrorCode }, request, reply) => {
    const known: KnownError | undefined = error.ventesyncCode
      ? { code: error.ventesyncCode, message: error.message }
      : fastifyCodes[error.code];
    if (known) return reply.code(statusOf(known.code)).send(errorBody(known.code, known.message, known.extra));
    const storage = storageFailureOf(error);
    if (storage) options.onStorageFailure?.(storage, error);
    if (storage === 'busy') {
      request.log.warn({ err: error }, 'base de données occupée');
      return reply
        .code(statusOf('SERVICE_UNAVAILABLE'))
        .header('retry-after', String(BUSY_RETRY_AFTER_SECONDS))
        .send(errorBody('SERVICE_UNAVAILABLE', 'Base de données occupée, réessayez dans un instant'));
    }
    if (storage === 'full') {
      request.log.error({ err: error }, 'disque plein : écriture impossible');
      return reply
        .code(statusOf('STORAGE_FULL'))
        .header('retry-after', String(STORAGE_FULL_RETRY_AFTER_SECONDS))
        .send(
          errorBody(
            'STORAGE_FULL',
            "Le disque du serveur est plein : rien de cette requête n'a été enregistré. Renvoyez-la plus tard ; prévenez l'administrateur.",
          ),
        );
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      const code = codeOfStatus(error.statusCode);
      return reply.code(statusOf(code)).send(errorBody(code, `Requête invalide : ${error.message}`));
    }
    request.log.error({ err: error }, 'erreur inattendue');
    return reply.code(statusOf('INTERNAL_ERROR')).send(errorBody('INTERNAL_ERROR', 'Erreur interne du serveur'));
  });

  app.setNotFoundHandler((request, reply) => {
    // A known path asked with another method is 405, with the methods it does accept.
    const path = request.url.split('?')[0] ?? request.url;
    // Routes are known with or without their trailing slash (ignoreTrailingSlash): ask for both.
    const paths = [path, path.endsWith('/') ? path.slice(0, -1) : `${path}/`];
    const allowed = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].filter(
      (method) => method !== request.method && paths.some((url) => app.hasRoute({ url, method: method as 'GET' })),
    );
    if (allowed.length > 0) {
      return reply
        .code(statusOf('METHOD_NOT_ALLOWED'))
        .header('allow', allowed.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', `Méthode ${request.method} non acceptée ici : ${allowed.join(', ')}`));
    }
    return reply.code(statusOf('NOT_FOUND')).send(errorBody('NOT_FOUND', `Route introuvable : ${request.method} ${path.slice(0, 200)}`));
  });
}

/** For fastify's `frameworkErrors`: errors raised before routing (a URL that does not decode). */
export function frameworkErrorHandler(maxBodyBytes: number) {
  const fastifyCodes = fastifyErrors(maxBodyBytes);
  return (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
    const known = fastifyCodes[error.code] ?? { code: 'BAD_REQUEST' as const, message: 'Requête invalide' };
    return reply.code(statusOf(known.code)).send(errorBody(known.code, known.message));
  };
}

/**
 * For fastify's `clientErrorHandler`: what Node refuses before any request exists (headers too
 * large, a malformed header, a client too slow to send its request) is answered in JSON with a
 * code too, then the connection is closed. Logged at info: a misbehaving client leaves a trace.
 */
export function clientErrorHandler(logger: Pick<Logger, 'info'> | null) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const code: RequestErrorCode =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? 'HEADERS_TOO_LARGE'
          : 'BAD_REQUEST';
    const message =
      code === 'REQUEST_TIMEOUT'
        ? 'Requête trop lente : en-têtes ou corps non reçus à temps'
        : code === 'HEADERS_TOO_LARGE'
          ? 'En-têtes de requête trop volumineux'
          : 'Requête HTTP mal formée';
    const status = REQUEST_ERROR_STATUS[code];
    logger?.info({ status, code, cause: error.code, remote: socket.remoteAddress }, `Requête refusée avant lecture : ${status} ${code}`);
    if (socket.writable) {
      const body = JSON.stringify(errorBody(code, message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** A client error raised from our own code (parsers, hooks), with its contract code. */
export function clientError(code: RequestErrorCode, message: string): Error & { ventesyncCode: RequestErrorCode; statusCode: number } {
  return Object.assign(new Error(message), { ventesyncCode: code, statusCode: statusOf(code) });
}
