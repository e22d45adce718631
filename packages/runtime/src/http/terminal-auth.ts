import { errorBody, SERIAL_HEADER, statusOf } from '@ventesync/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the terminal hook: whatever the app's lookup returned for the serial. */
    terminal: unknown;
  }
}

const HEADER = SERIAL_HEADER.toLowerCase();

/** Why a request names no one till: no header (or blank), or the header sent more than once. */
export type SerialHeader = { kind: 'one'; serial: string } | { kind: 'none' } | { kind: 'several' };

/**
 * The till a request names. Node joins a header sent twice into "a, b": read as one serial it
 * would be a till nobody registered, stored under that name by a relay whose server is away.
 * A till sends its serial once; twice is a broken client or a proxy adding its own, refused
 * like a missing serial (the same answer from the server and the relay).
 */
export function serialHeader(request: FastifyRequest): SerialHeader {
  const raw = request.raw.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === HEADER) seen++;
  if (seen > 1) return { kind: 'several' };
  const value = request.headers[HEADER];
  const serial = (Array.isArray(value) ? value[0] : value)?.trim();
  return serial ? { kind: 'one', serial } : { kind: 'none' };
}

/** The French words of a refused serial header; the code is MISSING_SERIAL for both, as tills know it. */
export const SERIAL_REFUSALS = {
  none: 'Numéro de série du terminal requis dans les headers',
  several: `Un seul numéro de série du terminal attendu : le header ${SERIAL_HEADER} est envoyé plusieurs fois`,
} as const;

/**
 * Resolves `X-Device-Serial` before the body is read, so an unknown till is turned away
 * without parsing its payload. `findTerminal` is injected: the server looks in its database,
 * the relay in what it knows of the server.
 */
export function registerTerminalAuth<T>(
  app: FastifyInstance,
  /** `request`: the request asking (a reader may be treated apart from one bringing data). */
  findTerminal: (serial: string, request: FastifyRequest) => T | undefined | Promise<T | undefined>,
): void {
  app.decorateRequest('terminal', null);
  app.addHook('onRequest', async (request, reply) => {
    const header = serialHeader(request);
    if (header.kind !== 'one') {
      return reply
        .code(statusOf('MISSING_SERIAL'))
        .send(errorBody('MISSING_SERIAL', SERIAL_REFUSALS[header.kind], { header_required: SERIAL_HEADER }));
    }
    const terminal = await findTerminal(header.serial, request);
    if (!terminal) return reply.code(statusOf('TERMINAL_NOT_FOUND')).send(errorBody('TERMINAL_NOT_FOUND', 'Terminal non trouvé ou inactif'));
    request.terminal = terminal;
  });
}

export function terminalOf<T>(request: FastifyRequest): T {
  if (!request.terminal) throw new Error('route registered outside terminal authentication');
  return request.terminal as T;
}
