import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { buildOpenApiDocument, errorBody, statusOf, SYNC_PATH } from '@ventesync/shared';
import { type ApiServerOptions, createApiServer, registerTerminalAuth } from '@ventesync/runtime/http';
import { DAEMON_BUSY_TIMEOUT_MS } from '@ventesync/runtime/sqlite';
import type { FastifyInstance } from 'fastify';
import type { Db } from './db/open-database.js';
import type { Logger } from 'pino';
import { articlesRoutes } from './routes/articles.js';
import { historiqueRoutes } from './routes/historique.js';
import { statistiquesRoutes } from './routes/statistiques.js';
import { reconciliationRoutes } from './routes/reconciliation.js';
import { syncRoutes } from './routes/sync.js';
import { retoursRoutes } from './routes/retours.js';
import { relaisRoutes } from './routes/relais.js';
import { relaisEtatRoutes } from './routes/relais-etat.js';
import { registerRelayReportMetrics } from './relay-reports.js';
import type { GroupCommitLimits } from './group-commit.js';
import { createStorageHealth } from './storage-health.js';
import { registerHttpMetrics, registerMetricsRoute, registerReadyRoute } from '@ventesync/runtime/metrics';
import { createServerMetrics, SERVER_VERSION } from './server-metrics.js';
import { serverChecks } from './server-readiness.js';
import { registerRequestSignatures } from './request-signature.js';
import { createSqliteStorage } from './storage/sqlite-storage.js';
import type { Storage } from './storage/storage.js';

export type { GroupCommitStats } from './group-commit.js';

export type AppOptions = AppSettings & (
  | {
      /** What the API reads and writes (storage/storage.ts): SQLite or PostgreSQL. */
      storage: Storage;
    }
  | {
      /**
       * A SQLite connection, wrapped here in createSqliteStorage: what the tests open. The
       * caller keeps it and closes it.
       */
      db: Db;
      /** Group commit bounds (tests shorten them); the defaults otherwise. */
      groupCommit?: Partial<GroupCommitLimits>;
    }
);

export interface AppSettings {
  logger?: Logger | false;
  /** The clock, injectable so tests can pin "now". */
  now?: () => Date;
  /** Connection and load limits (tests shorten them); the defaults otherwise. */
  limits?: ApiServerOptions['limits'];
  /** `serve --require-signatures`: terminals without a secret are refused (CONTRACT §6). */
  requireSignatures?: boolean;
  /** PEM certificate and key: HTTPS instead of HTTP. */
  tls?: ApiServerOptions['tls'];
  /** `serve --metrics-token-file`: /metrics answers only scrapers sending it; without it, no /metrics. */
  metricsToken?: string;
  /** `/ready` warns below this much free disk (tests raise it); LOW_DISK_WARN_BYTES otherwise. */
  lowDiskWarnBytes?: number;
}

/** The whole HTTP API on an open storage; tests build it without listening. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  // A write lock held by another process (a CLI command, a backup) costs a short freeze, then
  // 503 + Retry-After; never seconds of a frozen server.
  const storage =
    'storage' in options
      ? options.storage
      : createSqliteStorage(options.db, {
          busyTimeoutMs: DAEMON_BUSY_TIMEOUT_MS,
          ...(options.groupCommit ? { groupCommit: options.groupCommit } : {}),
        });
  const now = options.now ?? (() => new Date());
  const health = createStorageHealth(storage.health.diskFile ?? '', () => storage.health.probeWrite(), () => now().getTime());
  const app = createApiServer(options.logger, {
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    onStorageFailure: (failure, error) => {
      if (failure !== 'busy') health.failed(String((error as { code?: unknown }).code), failure);
    },
  });
  // A sale written is a write that succeeded: the disk takes writes again.
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 201 && request.routeOptions.url === SYNC_PATH) health.succeeded();
  });

  // Always counted (a few increments per sync), served only with a token: see README.
  const metrics = createServerMetrics(() => storage.health.sizeBytes(), SERVER_VERSION);
  storage.writes.onCommit(metrics.commitObserved);
  // Every shop's relay seen from the centre: their last reports, as gauges per relay.
  registerRelayReportMetrics(metrics.registry, storage.relays, now);
  registerHttpMetrics(app, metrics.registry);
  if (options.metricsToken !== undefined) registerMetricsRoute(app, metrics.registry, { token: options.metricsToken });
  // What the writes did since start, for operators and for the bench (commits, group sizes).
  app.addHook('onClose', async () => {
    const stats = storage.writes.stats();
    app.log.info(
      { ecritures_groupees: stats },
      `Écritures : ${stats.salesWritten} ventes enregistrées, ${stats.requests} requêtes en ${stats.commits} validations sur disque (groupe le plus grand : ${stats.maxGroupRequests} requêtes), ${stats.failedGroups} groupes en échec, ${stats.refused} requêtes refusées (file pleine)`,
    );
  });

  const openapi = buildOpenApiDocument('ventesync — serveur central');
  await app.register(swagger, { mode: 'static', specification: { document: openapi as never } });
  // Swagger UI's assets are served from the package itself: /docs works with no internet.
  await app.register(swaggerUi, { routePrefix: '/docs', theme: { title: 'ventesync — API' } });
  // Built once: a client asking for it a thousand times costs no serialisation, and every
  // answer shares these bytes.
  const openapiBytes = Buffer.from(JSON.stringify(openapi));
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(openapiBytes));

  // Monitoring reads the status; the body says which part fails, in the error vocabulary.
  app.get('/health', async (request, reply) => {
    const failing = (error: string) => reply.code(statusOf('DATABASE_FAILING')).send(errorBody('DATABASE_FAILING', error));
    try {
      await storage.health.ping();
    } catch (error) {
      request.log.error({ err: error }, 'base de données injoignable');
      return failing('Base de données en échec : elle ne répond pas');
    }
    const state = await health.state();
    if (!state.ok) return failing(`Base de données en échec : ${state.reason}`);
    return reply.send({ status: 'ok' });
  });
  const startedAt = now().getTime();
  registerReadyRoute(app, {
    version: SERVER_VERSION,
    startedAt,
    now: () => now().getTime(),
    checks: serverChecks({
      storage: storage.health,
      health,
      now: () => now().getTime(),
      ...(options.lowDiskWarnBytes !== undefined ? { lowDiskWarnBytes: options.lowDiskWarnBytes } : {}),
    }),
  });

  const signatureOptions = { requireSignatures: options.requireSignatures ?? false, nowSeconds: () => Math.floor(now().getTime() / 1000) };
  await app.register(async (api) => {
    registerTerminalAuth(api, (serial) => storage.catalogue.findActiveTerminal(serial));
    // After the serial (400/404), before the body: CONTRACT §6's order.
    registerRequestSignatures(api, storage, signatureOptions);
    syncRoutes(api, storage.writes, now, metrics);
    retoursRoutes(api, storage.writes, now);
    articlesRoutes(api, storage.catalogue);
    historiqueRoutes(api, storage.reader);
    statistiquesRoutes(api, storage.reader, now);
    reconciliationRoutes(api, storage.reconciliation);
  });
  // For registered relays only (no till named): its own scope, without the serial's check.
  await app.register(async (relais) => {
    relaisRoutes(relais, storage, signatureOptions);
    relaisEtatRoutes(relais, storage.relays, now);
  });

  return app;
}
