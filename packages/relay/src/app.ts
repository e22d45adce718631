import {
  ARTICLES_PATH,
  type ArticlesResponse,
  buildRetoursAnswer,
  buildSyncAnswer,
  checkRetoursBatch,
  checkSyncBatch,
  errorBody,
  formatMoney,
  HISTORIQUE_PATH,
  RECONCILIATION_PATH,
  RETOURS_PATH,
  STATISTIQUES_PATH,
  statusOf,
  SYNC_PATH,
} from '@ventesync/shared';
import { createApiServer, registerTerminalAuth, serialHeader, type StorageWording, terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { DAEMON_STATUS_PATH, type DaemonIdentity } from './daemon-probe.js';
import { localUrl } from './local-address.js';
import type { Forwarder } from './forwarder.js';
import type { RelayStore } from './relay-store.js';
import { registerShopPage } from './page/routes.js';
import { createSaleIntake } from './sale-intake.js';
import { createRetourIntake } from './retour-intake.js';
import { classifyAnswer } from './classify.js';
import { createReadCoalescer } from './read-coalescer.js';
import type { RelayTrust } from './relay-trust.js';
import { registerSignatureCheck } from '@ventesync/runtime/http';
import type { RelayTerminal, TerminalDirectory } from './terminal-directory.js';
import type { Upstream } from './upstream.js';
import { registerHttpMetrics, registerMetricsRoute, registerReadyRoute } from '@ventesync/runtime/metrics';
import type { Db } from './db/open-database.js';
import type { DiskReserve } from './disk-reserve.js';
import { RELAY_VERSION, type RelayMetrics } from './relay-metrics.js';
import { relayChecks } from './relay-readiness.js';
import { serverReachable } from './server-reach.js';
import { logTillSync } from './till-request-log.js';

export interface RelayAppOptions {
  store: RelayStore;
  upstream: Upstream;
  forwarder: Forwarder;
  directory: TerminalDirectory;
  logger?: Logger | false;
  now?: () => Date;
  /** `/metrics` and `/ready` (relay-metrics.ts, relay-readiness.ts): the daemon's file, its reserve of disk space. */
  monitoring?: { metrics: RelayMetrics; db: Db; reserve?: DiskReserve; lowDiskWarnBytes?: number };
  /** The shop page's light turns red past this wait with the server away (default SERVER_AWAY_ALERT_MS). */
  pageAlertAfterMs?: number;
  /** CONTRACT §6 at the door: the tills' secrets learned from the server (relay-trust.ts). */
  trust?: RelayTrust;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The CLI on this machine: loopback, or the relay's own address when it listens on one only. */
const fromThisMachine = (request: FastifyRequest) =>
  LOOPBACK.has(request.ip) || (request.socket.remoteAddress !== undefined && request.socket.remoteAddress === request.socket.localAddress);

/** The relay's file is on the shop's computer: a full disk there is for the shop to see to. */
export const RELAY_STORAGE_WORDING: StorageWording = Object.freeze({
  disk: "de l'ordinateur du relais, en boutique,",
  tell: 'le responsable de la boutique',
});

/** The till-facing side of the relay: the server's paths and errors, answered from the shop. */
export async function buildRelayApp(options: RelayAppOptions): Promise<FastifyInstance> {
  const { store, upstream, forwarder, directory } = options;
  const now = options.now ?? (() => new Date());
  const app = createApiServer(options.logger, { storageWording: RELAY_STORAGE_WORDING });

  const intake = createSaleIntake(store);
  // A till's write that the disk refuses is the relay's trouble as much as the forwarder's: recorded the same way.
  const noted = <T>(write: () => T): T => {
    let result: T;
    try {
      result = write();
    } catch (error) {
      forwarder.noteWrite(error);
      throw error;
    }
    forwarder.noteWrite(null);
    return result;
  };
  const retourIntake = createRetourIntake(store);

  // For IT: open like the shop page (counts only, no sale, no serial), the relay being on the shop's network.
  const { monitoring } = options;
  if (monitoring) {
    registerHttpMetrics(app, monitoring.metrics.registry);
    registerMetricsRoute(app, monitoring.metrics.registry);
    registerReadyRoute(app, {
      version: RELAY_VERSION,
      startedAt: now().getTime(),
      now: () => now().getTime(),
      checks: relayChecks({
        db: monitoring.db,
        store,
        queue: monitoring.metrics.queue,
        writeTrouble: () => forwarder.writeTrouble(),
        now,
        ...(monitoring.reserve ? { reserve: monitoring.reserve } : {}),
        ...(monitoring.lowDiskWarnBytes !== undefined ? { lowDiskWarnBytes: monitoring.lowDiskWarnBytes } : {}),
      }),
    });
  }

  app.get('/health', async () => ({ status: 'ok' as const, serveur_joignable: serverReachable(store) === true }));

  // The CLI (`sync`, `status`, retry's prompt send) finds the daemon through the file they
  // share: the address it really listens on, IPv6 included.
  app.addHook('onListen', async () => {
    const url = localUrl(app.server.address());
    if (url) store.setEtat('daemon_url', url);
  });

  const forbidden = (reply: FastifyReply) => reply.code(statusOf('FORBIDDEN')).send(errorBody('FORBIDDEN', 'Réservé à la machine du relais'));
  const startedAt = now().toISOString();

  // For `status`: the daemon says itself that it runs, and which relay file it serves. Asked
  // on every `status`: not worth a line in the shop's log.
  app.get(DAEMON_STATUS_PATH, { logLevel: 'warn' }, async (request, reply) => {
    if (!fromThisMachine(request)) return forbidden(reply);
    const identity: DaemonIdentity = { relais_id: store.relayId(), pid: process.pid, demarre_le: startedAt };
    return identity;
  });

  // For `sync`: only from this machine. A person asking for it wants everything sent now,
  // sales waiting out a stock refusal included (the stock may just have been corrected).
  app.post('/relay/sync', async (request, reply) => {
    if (!fromThisMachine(request)) return forbidden(reply);
    store.makeAllDue();
    return { success: true, ...(await forwarder.syncNow()) };
  });

  await app.register(async (api) => {
    const { trust } = options;
    // The relay's door (relay-trust.ts): 503 while it cannot tell who must sign, before the serial lookup.
    if (trust) {
      api.addHook('onRequest', async (request, reply) => {
        const header = serialHeader(request);
        if (header.kind !== 'one') return; // MISSING_SERIAL, said by the terminal check next
        const admission = await trust.admit(header.serial);
        if (admission.kind === 'wait') {
          return reply
            .code(statusOf('SERVICE_UNAVAILABLE'))
            .header('retry-after', String(admission.retryAfterSeconds))
            .send(errorBody('SERVICE_UNAVAILABLE', admission.message));
        }
        if (admission.kind === 'not-found') {
          return reply.code(statusOf('TERMINAL_NOT_FOUND')).send(errorBody('TERMINAL_NOT_FOUND', 'Terminal non trouvé ou inactif'));
        }
      });
    }
    registerTerminalAuth(api, (serial, request) => directory.find(serial, { read: request.method === 'GET' || request.method === 'HEAD' }));
    // The same rules, codes and order as the server: serial, signature, then the body.
    if (trust) {
      registerSignatureCheck(api, {
        demand: (request) => trust.demand(terminalOf<RelayTerminal>(request).serial),
        replays: trust.replays,
        nowSeconds: trust.nowSeconds,
      });
    }

    api.post(SYNC_PATH, async (request, reply) => {
      const terminal = terminalOf<RelayTerminal>(request);
      const batch = checkSyncBatch(request.body);
      if (!batch.ok) return reply.code(batch.status).send(batch.body);
      const outcome = noted(() => intake.take(terminal, batch.items, now()));
      logTillSync(request, terminal, batch.items.length, outcome);
      if (outcome.creees.length > 0) forwarder.notify();
      const answer = buildSyncAnswer(
        // A till's JSON models hold an int here: 0 while the relay has not met the server yet.
        { boutique_id: terminal.boutique_id ?? 0, boutique_nom: terminal.boutique_nom, terminal: terminal.terminal_nom },
        batch.items.length,
        outcome,
      );
      return reply.code(answer.status).send(answer.body);
    });

    // Returns (issue 10): taken like sales, answered in the server's shape, forwarded after their sale.
    api.post(RETOURS_PATH, async (request, reply) => {
      const terminal = terminalOf<RelayTerminal>(request);
      const batch = checkRetoursBatch(request.body);
      if (!batch.ok) return reply.code(batch.status).send(batch.body);
      const outcome = noted(() => retourIntake.take(terminal, batch.items, now()));
      if (outcome.crees.length > 0) forwarder.notify();
      const answer = buildRetoursAnswer(
        { boutique_id: terminal.boutique_id ?? 0, boutique_nom: terminal.boutique_nom, terminal: terminal.terminal_nom },
        batch.items.length,
        outcome,
      );
      return reply.code(answer.status).send(answer.body);
    });

    const readOnce = createReadCoalescer((url: string, serial: string) => upstream.get(url, serial));

    const forward = (onUnreachable: (request: FastifyRequest, reply: FastifyReply) => unknown) =>
      async (request: FastifyRequest, reply: FastifyReply) => {
        const terminal = terminalOf<RelayTerminal>(request);
        const answer = await readOnce(request.url, terminal.serial);
        store.recordServerAnswered(answer.kind === 'response', now());
        if (answer.kind === 'network-error') return onUnreachable(request, reply);
        // The server refused the relay (its credentials, its signature), not the till: the till
        // is answered as when the server is away, and the staff read why in the log.
        const refused = classifyAnswer(answer, []);
        if (refused.kind === 'trust') {
          request.log.warn({ serial: terminal.serial, code: refused.code }, `Lecture refusée par le serveur : ${refused.reason}`);
          return onUnreachable(request, reply);
        }
        if (answer.status === 200 && request.routeOptions.url === ARTICLES_PATH) {
          directory.cacheCatalogue(answer.body as ArticlesResponse);
        }
        if (answer.retryAfterMs !== null) reply.header('retry-after', String(Math.max(1, Math.ceil(answer.retryAfterMs / 1000))));
        return reply.code(answer.status).send(answer.body);
      };

    const unavailable = (_request: FastifyRequest, reply: FastifyReply) =>
      reply
        .code(statusOf('UPSTREAM_UNAVAILABLE'))
        .send(errorBody('UPSTREAM_UNAVAILABLE', 'Serveur central injoignable : réessayez plus tard (les ventes restent gardées par le relais)'));

    api.get(
      ARTICLES_PATH,
      forward((request, reply) => {
        const terminal = terminalOf<RelayTerminal>(request);
        const updated = terminal.boutique_id === null ? null : store.catalogueUpdated(terminal.boutique_id);
        if (terminal.boutique_id === null || updated === null) return unavailable(request, reply);
        const body: ArticlesResponse = {
          success: true,
          boutique_id: terminal.boutique_id,
          articles: store.catalogue(terminal.boutique_id).map((a) => ({
            id: a.article_id,
            nom: a.nom,
            prix_vente: formatMoney(a.prix_vente),
            quantite_stock: a.quantite_stock,
          })),
          source: 'cache',
          cache_mis_a_jour: updated,
        };
        return reply.send(body);
      }),
    );
    api.get(HISTORIQUE_PATH, forward(unavailable));
    api.get(STATISTIQUES_PATH, forward(unavailable));
    // A till can reconcile through the relay as with the server (§5: the same paths).
    api.get(RECONCILIATION_PATH, forward(unavailable));
  });

  // The page for the shop's staff at `/`: read by anyone, decisions from the shop PC only.
  // Its decisions go in the relay file's audit table, like the CLI's (the daemon's file is monitoring's).
  registerShopPage(app, {
    store,
    forwarder,
    now,
    ...(options.pageAlertAfterMs ? { alertAfterMs: options.pageAlertAfterMs } : {}),
    ...(options.monitoring ? { auditDb: options.monitoring.db } : {}),
  });

  return app;
}

