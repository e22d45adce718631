import { errorBody, type RequestErrorCode, statusOf } from '@ventesync/shared';
import type { FastifyError, FastifyInstance } from 'fastify';

interface KnownError {
  code: RequestErrorCode;
  message: string;
  extra?: Record<string, unknown>;
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
  };
}

/**
 * Turns every failure into `{error, code}` JSON: known client errors keep their 4xx status,
 * anything unexpected becomes a 500 that is logged with the request and leaks nothing.
 */
export function registerErrorHandling(app: FastifyInstance, maxBodyBytes: number): void {
  const fastifyCodes = fastifyErrors(maxBodyBytes);
  app.setErrorHandler((error: FastifyError & { ventesyncCode?: RequestErrorCode }, request, reply) => {
    const known: KnownError | undefined = error.ventesyncCode
      ? { code: error.ventesyncCode, message: error.message }
      : fastifyCodes[error.code];
    if (known) return reply.code(statusOf(known.code)).send(errorBody(known.code, known.message, known.extra));
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      request.log.warn({ err: error }, 'base de données occupée');
      return reply
        .code(statusOf('SERVICE_UNAVAILABLE'))
        .header('retry-after', '1')
        .send(errorBody('SERVICE_UNAVAILABLE', 'Base de données occupée, réessayez dans un instant'));
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody('BAD_REQUEST', `Requête invalide : ${error.message}`));
    }
    request.log.error({ err: error }, 'erreur inattendue');
    return reply.code(500).send(errorBody('INTERNAL_ERROR', 'Erreur interne du serveur'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `Route introuvable : ${request.method} ${request.url}`)),
  );
}

/** A client error raised from our own code (parsers, hooks), with its contract code. */
export function clientError(code: RequestErrorCode, message: string): Error & { ventesyncCode: RequestErrorCode; statusCode: number } {
  return Object.assign(new Error(message), { ventesyncCode: code, statusCode: statusOf(code) });
}
