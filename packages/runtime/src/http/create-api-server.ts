import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { MAX_BODY_BYTES } from '@ventesync/shared';
import { registerErrorHandling } from './error-handler.js';
import { registerJsonBody } from './json-body.js';

/**
 * A Fastify instance with the request-level behaviour tills rely on, the same for the server
 * and the relay: body limit, trailing slash optional, JSON whatever the content type, every
 * error as `{error, code}`.
 */
export function createApiServer(logger: Logger | false | undefined): FastifyInstance {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    // One log line per request would double the guide's own lines on the hot path.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  registerErrorHandling(app, MAX_BODY_BYTES);
  registerJsonBody(app);
  return app;
}

/**
 * Runs `close` once on SIGINT or SIGTERM, then exits: 0 when it finished, 1 when it failed.
 */
export function closeOnSignals(logger: Logger, close: () => Promise<void>): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'Arrêt demandé');
    close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'Arrêt incomplet');
        process.exit(1);
      });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
