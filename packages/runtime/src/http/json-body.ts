import type { FastifyInstance, FastifyRequest } from 'fastify';
import { clientError } from './error-handler.js';

/**
 * Strict: a byte sequence that is not UTF-8 (a till sending Latin-1) is refused instead of
 * turned into U+FFFD, which would make `FAC-é1` and `FAC-è1` the same numero and lose a sale.
 * The default `ignoreBOM: false` drops a leading byte-order mark, which some Windows encoders
 * write and JSON.parse refuses.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text, or null when its bytes are not UTF-8. */
export function decodeUtf8(body: Buffer): string | null {
  try {
    return utf8.decode(body);
  } catch {
    return null;
  }
}

// Bytes of each body as received: a chunked body has no Content-Length to tell it.
const receivedBytes = new WeakMap<FastifyRequest, number>();

/** The size in bytes of the request's body as received, once it has been read. */
export function bodyBytesOf(request: FastifyRequest): number | undefined {
  return receivedBytes.get(request);
}

/**
 * A check on the body's bytes exactly as received, run before they are decoded or parsed (a
 * request signature covers those bytes: CONTRACT §6). Returns the error to refuse the request
 * with, or null. The buffer is the one the parser gets: nothing is copied. A check that needs
 * an asynchronous database (the server on PostgreSQL) returns a promise of that; a synchronous
 * one (the relay, SQLite) costs no extra turn.
 */
export type RawBodyCheck = (body: Buffer) => Error | null | Promise<Error | null>;
const rawBodyChecks = new WeakMap<FastifyRequest, RawBodyCheck>();

/** Asks the body parser to run `check` on this request's raw bytes before parsing them. */
export function checkRawBody(request: FastifyRequest, check: RawBodyCheck): void {
  rawBodyChecks.set(request, check);
}

/**
 * The check still waiting, removed: a request with no body never reaches the parser, so whoever
 * registered a check runs it on an empty body (preValidation) to be sure it ran once.
 */
export function takeRawBodyCheck(request: FastifyRequest): RawBodyCheck | undefined {
  const check = rawBodyChecks.get(request);
  if (check) rawBodyChecks.delete(request);
  return check;
}

/**
 * Tills send JSON, but not all of them say so: any content type is read as JSON, and a body
 * that does not parse is INVALID_JSON (the contract's code), not fastify's own error.
 */
export function registerJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    receivedBytes.set(request, (body as Buffer).length);
    const check = takeRawBodyCheck(request);
    const refusal = check ? check(body as Buffer) : null;
    if (refusal instanceof Promise) {
      refusal.then(
        (error) => (error ? done(error, undefined) : parseJson(body as Buffer, done)),
        (error: Error) => done(error, undefined),
      );
      return;
    }
    if (refusal) {
      done(refusal, undefined);
      return;
    }
    parseJson(body as Buffer, done);
  });
}

/** The body's bytes as JSON, or INVALID_JSON saying why not. */
function parseJson(body: Buffer, done: (error: Error | null, value: unknown) => void): void {
  const text = decodeUtf8(body);
  if (text === null) {
    done(
      clientError('INVALID_JSON', 'Corps de requête invalide : le texte n’est pas encodé en UTF-8 (accents en Latin-1 ?). Envoyez du JSON en UTF-8.'),
      undefined,
    );
    return;
  }
  if (text.trim() === '') {
    done(clientError('INVALID_JSON', 'Corps de requête vide : un tableau JSON de ventes est attendu'), undefined);
    return;
  }
  try {
    done(null, JSON.parse(text));
  } catch {
    done(clientError('INVALID_JSON', 'Corps de requête invalide : ce n’est pas du JSON valide'), undefined);
  }
}
