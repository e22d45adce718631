import { errorBody, statusOf } from '@ventesync/shared';
import type { FastifyInstance } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';

export const METRICS_PATH = '/metrics';
/** A token shorter than this is refused at start: it could be guessed. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Whether `Authorization: Bearer <token>` names the token, in constant time (both sides hashed
 * first, so that their lengths say nothing either).
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * `GET /metrics` in Prometheus's text format. Every value is read when asked (counters are
 * kept as sales flow; gauges read the database at that moment). With `token`, only a scraper
 * sending it as a bearer token is answered. Scrapes are not worth an access line each.
 */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry, options: { token?: string } = {}): void {
  const { token } = options;
  app.get(METRICS_PATH, { logLevel: 'warn' }, async (request, reply) => {
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      return reply.code(statusOf('FORBIDDEN')).send(errorBody('FORBIDDEN', 'Métriques : jeton absent ou incorrect (Authorization: Bearer …)'));
    }
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
}

/**
 * The scrapers' token, from a file (a command line would show it in `ps`): its first line,
 * trimmed. Refused when missing, unreadable or shorter than MIN_METRICS_TOKEN_LENGTH.
 */
export function readMetricsToken(file: string): { ok: true; token: string } | { ok: false; erreur: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, erreur: `jeton des métriques illisible (${file}) : ${String((error as { code?: unknown }).code ?? error)}` };
  }
  const token = (text.split(/\r?\n/)[0] ?? '').trim();
  if (token.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(token)) {
    return { ok: false, erreur: `jeton des métriques trop court dans ${file} : ${MIN_METRICS_TOKEN_LENGTH} caractères au moins, sans espace (ex. openssl rand -hex 32)` };
  }
  return { ok: true, token };
}
