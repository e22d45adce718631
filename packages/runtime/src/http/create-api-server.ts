import underPressure from '@fastify/under-pressure';
import { errorBody, MAX_BODY_BYTES, statusOf } from '@ventesync/shared';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { registerAccessLog } from './access-log.js';
import { capConnections } from './connection-cap.js';
import {
  clientErrorHandler,
  frameworkErrorHandler,
  registerErrorHandling,
  type StorageFailure,
} from './error-handler.js';
import { connectionCap, DEFAULT_HTTP_LIMITS, fileDescriptorLimit, type HttpLimits } from './http-limits.js';
import { registerJsonBody } from './json-body.js';

export interface ApiServerOptions {
  /** Connection and load limits; anything left out keeps its default. */
  limits?: Partial<Omit<HttpLimits, 'pressure'>> & { pressure?: Partial<HttpLimits['pressure']> };
  /** One info line per request (method, route, status, duration, serial, request id). */
  accessLog?: boolean;
  onStorageFailure?: (failure: StorageFailure, error: unknown) => void;
}

/** The defaults with the given overrides, the connection cap resolved from the file limit. */
export function resolveHttpLimits(overrides: ApiServerOptions['limits'] = {}): Readonly<HttpLimits> {
  const limits: HttpLimits = {
    ...DEFAULT_HTTP_LIMITS,
    ...overrides,
    pressure: { ...DEFAULT_HTTP_LIMITS.pressure, ...overrides.pressure },
  };
  limits.maxConnections ??= connectionCap(fileDescriptorLimit());
  return Object.freeze(limits);
}

/**
 * A Fastify instance with the request-level behaviour tills rely on, the same for the server
 * and the relay: body limit, trailing slash optional, JSON whatever the content type, every
 * error as `{error, code}`, timeouts and a connection cap so that no client can hold the
 * server, load shedding, and one access line per request.
 */
export function createApiServer(logger: Logger | false | undefined, options: ApiServerOptions = {}): FastifyInstance {
  const limits = resolveHttpLimits(options.limits);
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    // fastify's own two lines per request are replaced by registerAccessLog's one.
    logController: new LogController({ disableRequestLogging: true }),
    connectionTimeout: limits.socketIdleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
      maxHeaderSize: limits.maxHeaderBytes,
    },
    clientErrorHandler: clientErrorHandler(logger || null),
    frameworkErrors: frameworkErrorHandler(MAX_BODY_BYTES),
  }) as unknown as FastifyInstance;
  capConnections(app.server, limits.maxConnections!);

  registerErrorHandling(app, {
    maxBodyBytes: MAX_BODY_BYTES,
    ...(options.onStorageFailure ? { onStorageFailure: options.onStorageFailure } : {}),
  });
  registerJsonBody(app);
  if (options.accessLog !== false) registerAccessLog(app);

  app.addHook('onRequest', async (request, reply) => {
    if (request.url.length > limits.maxUrlLength) {
      return reply
        .code(statusOf('URI_TOO_LONG'))
        .send(errorBody('URI_TOO_LONG', `Adresse trop longue : ${limits.maxUrlLength} caractères au maximum`));
    }
  });

  const { pressure } = limits;
  void app.register(underPressure, {
    maxEventLoopDelay: pressure.maxEventLoopDelayMs,
    maxHeapUsedBytes: pressure.maxHeapUsedBytes,
    maxRssBytes: pressure.maxRssBytes,
    sampleInterval: pressure.sampleIntervalMs,
    retryAfter: pressure.retryAfterSeconds,
    pressureHandler: (request, reply, type, value) => {
      request.log.warn({ type, value }, 'surcharge : requête refusée');
      reply.code(statusOf('OVERLOADED')).header('retry-after', String(pressure.retryAfterSeconds));
      return errorBody('OVERLOADED', 'Serveur surchargé, réessayez dans quelques secondes') as never;
    },
  });
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
