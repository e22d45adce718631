import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { buildOpenApiDocument } from '@ventesync/shared';
import { createApiServer, registerTerminalAuth } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import { createCatalogueStore } from './catalogue-store.js';
import type { Db } from './db/open-database.js';
import type { Logger } from 'pino';
import { articlesRoutes } from './routes/articles.js';
import { historiqueRoutes } from './routes/historique.js';
import { statistiquesRoutes } from './routes/statistiques.js';
import { syncRoutes } from './routes/sync.js';
import { createSaleReader } from './sale-reader.js';
import { createSaleWriter } from './sale-writer.js';

export interface AppOptions {
  db: Db;
  logger?: Logger | false;
  /** The clock, injectable so tests can pin "now". */
  now?: () => Date;
}

/** The whole HTTP API on an open database; tests build it without listening. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { db } = options;
  const now = options.now ?? (() => new Date());
  const app = createApiServer(options.logger);

  const catalogue = createCatalogueStore(db);
  const writer = createSaleWriter(db);
  const reader = createSaleReader(db);
  const ping = db.prepare('SELECT 1').pluck();

  const openapi = buildOpenApiDocument('ventesync — serveur central');
  await app.register(swagger, { mode: 'static', specification: { document: openapi as never } });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', async () => openapi);

  app.get('/health', async (_request, reply) => {
    ping.get();
    return reply.send({ status: 'ok' });
  });

  await app.register(async (api) => {
    registerTerminalAuth(api, (serial) => catalogue.findActiveTerminal(serial));
    syncRoutes(api, writer, now);
    articlesRoutes(api, catalogue);
    historiqueRoutes(api, reader);
    statistiquesRoutes(api, reader, now);
  });

  return app;
}
