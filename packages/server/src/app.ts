import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { buildOpenApiDocument, errorBody, statusOf, SYNC_PATH } from '@ventesync/shared';
import { type ApiServerOptions, createApiServer, registerTerminalAuth } from '@ventesync/runtime/http';
import { DAEMON_BUSY_TIMEOUT_MS, setBusyTimeout } from '@ventesync/runtime/sqlite';
import type { FastifyInstance } from 'fastify';
import { createCatalogueStore } from './catalogue-store.js';
import { type Db, registerMoneySums } from './db/open-database.js';
import type { Logger } from 'pino';
import { articlesRoutes } from './routes/articles.js';
import { historiqueRoutes } from './routes/historique.js';
import { statistiquesRoutes } from './routes/statistiques.js';
import { reconciliationRoutes } from './routes/reconciliation.js';
import { createReconciliationReader } from './reconciliation-reader.js';
import { syncRoutes } from './routes/sync.js';
import { retoursRoutes } from './routes/retours.js';
import { createRetourWriter } from './retour-writer.js';
import { relaisRoutes } from './routes/relais.js';
import { relaisEtatRoutes } from './routes/relais-etat.js';
import { createRelayReports, registerRelayReportMetrics } from './relay-reports.js';
import { createSaleReader } from './sale-reader.js';
import { createSaleWriter } from './sale-writer.js';
import { createGroupCommit, DEFAULT_GROUP_COMMIT_LIMITS, type GroupCommitLimits } from './group-commit.js';
import { createStorageHealth, probeDiskWrite } from './storage-health.js';
import { createRelayRegistry } from './relay-registry.js';
import { registerHttpMetrics, registerMetricsRoute, registerReadyRoute } from '@ventesync/runtime/metrics';
import { createServerMetrics, SERVER_VERSION } from './server-metrics.js';
import { serverChecks } from './server-readiness.js';
import { registerRequestSignatures } from './request-signature.js';

export type { GroupCommitStats } from './group-commit.js';

export interface AppOptions {
  db: Db;
  logger?: Logger | false;
  /** The clock, injectable so tests can pin "now". */
  now?: () => Date;
  /** Connection and load limits (tests shorten them); the defaults otherwise. */
  limits?: ApiServerOptions['limits'];
  /** Group commit bounds (tests shorten them); the defaults otherwise. */
  groupCommit?: Partial<GroupCommitLimits>;
  /** `serve --require-signatures`: terminals without a secret are refused (CONTRACT §6). */
  requireSignatures?: boolean;
  /** PEM certificate and key: HTTPS instead of HTTP. */
  tls?: ApiServerOptions['tls'];
  /** `serve --metrics-token-file`: /metrics answers only scrapers sending it; without it, no /metrics. */
  metricsToken?: string;
  /** `/ready` warns below this much free disk (tests raise it); LOW_DISK_WARN_BYTES otherwise. */
  lowDiskWarnBytes?: number;
}

/**
 * A write that proves the database can write again after a failure: fresh space on its disk
 * (a probe file), then SQLite's own allocation of a page (a table created and rolled back, so
 * nothing stays). Throws as a sale's write would.
 */
function probeWrite(db: Db): void {
  if (db.name !== ':memory:' && db.name !== '') probeDiskWrite(db.name);
  if (db.inTransaction) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE sonde_ecriture (x)');
  } finally {
    db.exec('ROLLBACK');
  }
}

/** The whole HTTP API on an open database; tests build it without listening. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { db } = options;
  // The readers' sums need it, whoever opened the connection (tests open their own).
  registerMoneySums(db);
  const now = options.now ?? (() => new Date());
  // A write lock held by another process (a CLI command, a backup) costs a short freeze, then
  // 503 + Retry-After; never seconds of a frozen server.
  setBusyTimeout(db, DAEMON_BUSY_TIMEOUT_MS);
  const storage = createStorageHealth(db.name, () => probeWrite(db), () => now().getTime());
  const app = createApiServer(options.logger, {
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    onStorageFailure: (failure, error) => {
      if (failure !== 'busy') storage.failed(String((error as { code?: unknown }).code), failure);
    },
  });
  // A sale written is a write that succeeded: the disk takes writes again.
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 201 && request.routeOptions.url === SYNC_PATH) storage.succeeded();
  });

  const catalogue = createCatalogueStore(db);
  const writer = createSaleWriter(db);
  // Always counted (a few increments per sync), served only with a token: see README.
  const metrics = createServerMetrics(db, SERVER_VERSION);
  // Every shop's relay seen from the centre: their last reports, as gauges per relay.
  const relayReports = createRelayReports(db);
  registerRelayReportMetrics(metrics.registry, relayReports, now);
  registerHttpMetrics(app, metrics.registry);
  if (options.metricsToken !== undefined) registerMetricsRoute(app, metrics.registry, { token: options.metricsToken });
  const groupCommit = createGroupCommit(db, { ...DEFAULT_GROUP_COMMIT_LIMITS, ...options.groupCommit }, metrics.commitObserved);
  const reader = createSaleReader(db);
  // What group commit did since start, for operators and for the bench (fsyncs, group sizes).
  app.addHook('onClose', async () => {
    const stats = groupCommit.stats();
    app.log.info(
      { ecritures_groupees: stats },
      `Écritures : ${stats.salesWritten} ventes enregistrées, ${stats.requests} requêtes en ${stats.commits} validations sur disque (groupe le plus grand : ${stats.maxGroupRequests} requêtes), ${stats.failedGroups} groupes en échec, ${stats.refused} requêtes refusées (file pleine)`,
    );
  });
  const ping = db.prepare('SELECT 1').pluck();

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
      ping.get();
    } catch (error) {
      request.log.error({ err: error }, 'base de données injoignable');
      return failing('Base de données en échec : elle ne répond pas');
    }
    const state = storage.state();
    if (!state.ok) return failing(`Base de données en échec : ${state.reason}`);
    return reply.send({ status: 'ok' });
  });
  const startedAt = now().getTime();
  registerReadyRoute(app, {
    version: SERVER_VERSION,
    startedAt,
    now: () => now().getTime(),
    checks: serverChecks({
      db,
      storage,
      probeWrite: () => probeWrite(db),
      now: () => now().getTime(),
      ...(options.lowDiskWarnBytes !== undefined ? { lowDiskWarnBytes: options.lowDiskWarnBytes } : {}),
    }),
  });

  const signatureOptions = { requireSignatures: options.requireSignatures ?? false, nowSeconds: () => Math.floor(now().getTime() / 1000) };
  const relays = createRelayRegistry(db, { requireSignatures: signatureOptions.requireSignatures });
  await app.register(async (api) => {
    registerTerminalAuth(api, (serial) => catalogue.findActiveTerminal(serial));
    // After the serial (400/404), before the body: CONTRACT §6's order.
    registerRequestSignatures(api, db, relays, signatureOptions);
    syncRoutes(api, writer, groupCommit, now, metrics);
    retoursRoutes(api, createRetourWriter(db), groupCommit, now);
    articlesRoutes(api, catalogue);
    historiqueRoutes(api, reader);
    statistiquesRoutes(api, reader, now);
    reconciliationRoutes(api, createReconciliationReader(db));
  });
  // For registered relays only (no till named): its own scope, without the serial's check.
  await app.register(async (relais) => {
    relaisRoutes(relais, db, relays, signatureOptions);
    relaisEtatRoutes(relais, relayReports, now);
  });

  return app;
}
