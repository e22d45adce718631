import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './registry.js';

/** Seconds: from a cache hit (1 ms) to a batch that waited out a busy disk (10 s). */
export const HTTP_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The label of a request that matched no route: the raw URL would give a series per URL. */
export const UNMATCHED_ROUTE = 'aucune';

/**
 * `ventesync_http_request_duration_seconds{method, route, status}`: the route is the pattern
 * (`/api/v2/simple/ventes/sync/`), never the URL as sent, so the series stay few whatever
 * clients ask (query strings, unknown paths). One observation per answer: a few map look-ups.
 */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'Durée des requêtes HTTP, par route (modèle de chemin), méthode et statut',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? UNMATCHED_ROUTE, status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
