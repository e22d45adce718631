import { errorBody, SERIAL_HEADER, statusOf } from '@ventesync/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the terminal hook: whatever the app's lookup returned for the serial. */
    terminal: unknown;
  }
}

const HEADER = SERIAL_HEADER.toLowerCase();

/**
 * Resolves `X-Device-Serial` before the body is read, so an unknown till is turned away
 * without parsing its payload. `findTerminal` is injected: the server looks in its database,
 * the relay in what it knows of the server.
 */
export function registerTerminalAuth<T>(
  app: FastifyInstance,
  findTerminal: (serial: string) => T | undefined | Promise<T | undefined>,
): void {
  app.decorateRequest('terminal', null);
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.headers[HEADER];
    const serial = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!serial) {
      return reply.code(statusOf('MISSING_SERIAL')).send(
        errorBody('MISSING_SERIAL', 'Numéro de série du terminal requis dans les headers', {
          header_required: SERIAL_HEADER,
        }),
      );
    }
    const terminal = await findTerminal(serial);
    if (!terminal) return reply.code(statusOf('TERMINAL_NOT_FOUND')).send(errorBody('TERMINAL_NOT_FOUND', 'Terminal non trouvé ou inactif'));
    request.terminal = terminal;
  });
}

export function terminalOf<T>(request: FastifyRequest): T {
  if (!request.terminal) throw new Error('route registered outside terminal authentication');
  return request.terminal as T;
}
