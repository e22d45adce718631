import { SERIAL_HEADER } from '@ventesync/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const HEADER = SERIAL_HEADER.toLowerCase();
/** A serial is logged as sent, cut to this length: a till cannot flood the log through it. */
export const MAX_LOGGED_SERIAL_LENGTH = 64;

/**
 * One line per request at info, whatever its outcome, 4xx included: method, route, status,
 * duration, the till's serial and the request id (pino's `reqId`). A till hammering with a
 * disabled serial shows up here; what a sync did to each sale is logged by its route.
 */
const summaries = new WeakMap<FastifyRequest, { fields: Record<string, unknown>; msg: string }>();

/**
 * What a route has to say about its request (a sync's counts) goes out in the request's one
 * access line instead of a line of its own: under load every line written costs.
 */
export function summarizeRequest(request: FastifyRequest, fields: Record<string, unknown>, msg: string): void {
  summaries.set(request, { fields, msg });
}

export function registerAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    // Nothing is built for a line the level would not print (a silent logger has no such method).
    const log = request.log as { isLevelEnabled?: (level: string) => boolean };
    if (log.isLevelEnabled?.('info') !== true) return;
    const raw = request.headers[HEADER];
    const serial = (Array.isArray(raw) ? raw[0] : raw)?.trim().slice(0, MAX_LOGGED_SERIAL_LENGTH) || null;
    const route = request.routeOptions.url ?? null;
    const duration_ms = Math.round(reply.elapsedTime * 100) / 100;
    const access = { method: request.method, route, status: reply.statusCode, duration_ms, serial };
    const summary = summaries.get(request);
    if (summary) {
      request.log.info({ ...summary.fields, ...access }, summary.msg);
      return;
    }
    request.log.info(
      access,
      `${request.method} ${route ?? request.url.split('?')[0]!.slice(0, 200)} ${reply.statusCode} ${duration_ms} ms${serial ? ` (${serial})` : ''}`,
    );
  });
}

/**
 * Whether `log` prints `level`: log lines about each sale are built only then. pino's
 * isLevelEnabled; the silent logger (logger: false) lacks it: nothing printed, nothing built.
 */
export function levelEnabled(log: { isLevelEnabled?: (level: string) => boolean } | object, level: 'debug' | 'info' | 'warn'): boolean {
  return (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.(level) === true;
}
