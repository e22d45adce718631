import type { FastifyInstance } from 'fastify';
import { clientError } from './error-handler.js';

/**
 * Tills send JSON, but not all of them say so: any content type is read as JSON, and a body
 * that does not parse is INVALID_JSON (the contract's code), not fastify's own error.
 */
export function registerJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    // Some Windows encoders start UTF-8 text with a byte-order mark; JSON.parse refuses it.
    const text = String(body).replace(/^\uFEFF/, '');
    if (text.trim() === '') {
      done(clientError('INVALID_JSON', 'Corps de requête vide : un tableau JSON de ventes est attendu'), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(clientError('INVALID_JSON', 'Corps de requête invalide : ce n’est pas du JSON valide'), undefined);
    }
  });
}
