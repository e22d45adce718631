import underPressure from '@fastify/under-pressure';
import { errorBody, MAX_BODY_BYTES, statusOf } from '@ventesync/shared';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { registerAccessLog } from './access-log.js';
import { guardConnections } from './connection-cap.js';
import {
  clientErrorHandler,
  closeWith,
  frameworkErrorHandler,
  registerErrorHandling,
  type StorageFailure,
  type StorageWording,
} from './error-handler.js';
import { connectionCap, DEFAULT_HTTP_LIMITS, fileDescriptorLimit, type HttpLimits } from './http-limits.js';
import { registerJsonBody } from './json-body.js';

export interface ApiServerOptions {
  /** Connection and load limits; anything left out keeps its default. */
  limits?: Partial<Omit<HttpLimits, 'pressure'>> & { pressure?: Partial<HttpLimits['pressure']> };
  /** One info line per request (method, route, status, duration, serial, request id). */
  accessLog?: boolean;
  onStorageFailure?: (failure: StorageFailure, error: unknown) => void;
  /** Whose disk a storage failure is, in answers to clients (default: the server's). */
  storageWording?: StorageWording;
  /** PEM certificate and private key: the server speaks HTTPS (node's https server, same limits). */
  tls?: { cert: string | Buffer; key: string | Buffer };
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
  const httpOptions = {
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    maxHeaderSize: limits.maxHeaderBytes,
  };
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
    // fastify gives node's https server only its `https` options: the same limits go in there.
    ...(options.tls ? { https: { ...httpOptions, cert: options.tls.cert, key: options.tls.key } } : { http: httpOptions }),
    clientErrorHandler: clientErrorHandler(logger || null, MAX_BODY_BYTES),
    frameworkErrors: frameworkErrorHandler(MAX_BODY_BYTES),
  }) as unknown as FastifyInstance;
  guardConnections(app.server, {
    maxConnections: limits.maxConnections!,
    maxPipelinedRequests: limits.maxPipelinedRequests,
    maxUnsentBytes: limits.maxUnsentBytes,
    minBodyBytesPerSecond: limits.minBodyBytesPerSecond,
    bodyRateWindowMs: limits.bodyRateWindowMs,
    checkIntervalMs: limits.timeoutCheckIntervalMs,
    maxReceivingBodyBytes: limits.maxReceivingBodyBytes,
    maxTotalUnsentBytes: limits.maxTotalUnsentBytes,
    retryAfterSeconds: limits.pressure.retryAfterSeconds,
  });
  answerWhatNodeWouldNot(app);

  registerErrorHandling(app, {
    maxBodyBytes: MAX_BODY_BYTES,
    ...(options.onStorageFailure ? { onStorageFailure: options.onStorageFailure } : {}),
    ...(options.storageWording ? { storageWording: options.storageWording } : {}),
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
 * Node answers these itself, not in the contract's form: an `Expect` it does not know gets
 * 417 with an empty body, and CONNECT no answer at all (the socket is just closed).
 */
function answerWhatNodeWouldNot(app: FastifyInstance): void {
  app.server.on('checkExpectation', (request, response) => {
    const body = JSON.stringify(
      errorBody('EXPECTATION_FAILED', `Attente non prise en charge : Expect: ${String(request.headers.expect).slice(0, 100)} (seul 100-continue l'est)`),
    );
    response.writeHead(statusOf('EXPECTATION_FAILED'), {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    response.end(body);
  });
  app.server.on('connect', (_request, socket) => {
    closeWith(socket as Socket, {
      status: statusOf('METHOD_NOT_ALLOWED'),
      body: errorBody('METHOD_NOT_ALLOWED', 'Méthode CONNECT non acceptée : ce serveur n’est pas un proxy'),
    });
  });
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
