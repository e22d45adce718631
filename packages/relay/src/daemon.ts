import { closeOnSignals } from '@ventesync/runtime/http';
import { createLogger } from '@ventesync/runtime/log';
import { DAEMON_BUSY_TIMEOUT_MS, protectRelayFile, setBusyTimeout } from '@ventesync/runtime/sqlite';
import { buildRelayApp } from './app.js';
import { openDatabase } from './db/open-database.js';
import { STOCK_RETRY } from './backoff.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from './forwarder.js';
import { createClockWatch } from './clock.js';
import { createDiskReserve } from './disk-reserve.js';
import { lockRelayFile } from './relay-lock.js';
import { createRelayStore, type RelayStore } from './relay-store.js';
import { createTerminalDirectory } from './terminal-directory.js';
import { clockCorrection } from './clock.js';
import type { RelayCredentials } from './relay-credentials.js';
import { createRelayTrust, NO_LIST_MESSAGE, NO_LIST_RETRY_EVERY_MS, type RelayTrust } from './relay-trust.js';
import { createRequestSigner } from './request-signer.js';
import { createRelayMetrics, RELAY_VERSION } from './relay-metrics.js';
import { createRelayReporter, REPORT_DEADLINE_MS } from './relay-reporter.js';
import { createAgent, createUpstream, DEFAULT_TIMEOUTS } from './upstream.js';
import { createDailyReconciliation, createReconcileBooks } from './reconcile.js';

export interface RelayConfig {
  upstream: string;
  db: string;
  host: string;
  port: number;
  batchSize: number;
  intervalMs: number;
  timeoutMs: number;
  /** Sends of a sale refused for stock before it is REJETEE for a person. */
  stockRetries: number;
  pretty: boolean;
  /** A registered relay (CONTRACT §6): signs what it sends, checks its tills' signatures. None: as before. */
  credentials?: RelayCredentials | null;
  /** `--ca`: the private authority that signed an https:// server's certificate (PEM). */
  ca?: Buffer | null;
}

const CHECKPOINT_EVERY_MS = 10 * 60_000;

/**
 * Restarted towards another server while sales wait: they will all go to the new one. That is
 * said loudly (log) and recorded for `status` (`changement_serveur`), in case it is a mistake.
 */
function noteUpstreamChange(store: RelayStore, upstreamUrl: string, logger: { warn(obj: object, msg: string): void }): void {
  const previous = store.getEtat('serveur_url');
  const waiting = store.summary().reduce((n, s) => n + s.en_attente, 0);
  if (previous === upstreamUrl) {
    if (waiting === 0) store.setEtat('changement_serveur', null);
    return;
  }
  if (previous === null || waiting === 0) {
    store.setEtat('changement_serveur', null);
    return;
  }
  store.setEtat(
    'changement_serveur',
    JSON.stringify({ ancien: previous, nouveau: upstreamUrl, en_attente: waiting, le: new Date().toISOString() }),
  );
  logger.warn(
    { ancien_serveur: previous, nouveau_serveur: upstreamUrl, en_attente: waiting },
    `ATTENTION : serveur central changé (${previous} → ${upstreamUrl}) : les ${waiting} vente(s) en attente seront envoyées au nouveau serveur`,
  );
}

/** The relay process: hold what tills send, forward it, close cleanly on SIGINT/SIGTERM. */
export async function startRelay(config: Readonly<RelayConfig>): Promise<void> {
  const locked = lockRelayFile(config.db);
  if (!locked.ok) {
    process.stderr.write(`Erreur : ${locked.erreur}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createLogger({ pretty: config.pretty });
  const upstreamUrl = config.upstream.replace(/\/+$/, '');
  let db: ReturnType<typeof openDatabase>;
  let store: RelayStore;
  try {
    db = openDatabase(config.db);
    // The file holds the tills' secrets (encrypted) and every sale: for this machine's user only.
    protectRelayFile(config.db);
    // Opened (schema applied) with a command's patience; from now on a lock held by a staff
    // command is waited out briefly: the wait is synchronous and would freeze every till.
    setBusyTimeout(db, DAEMON_BUSY_TIMEOUT_MS);
    store = createRelayStore(db);
    // Under the lock, no other relay runs on this file: a sale still marked in flight was
    // being sent by one that died, and is sent again.
    store.releaseAllClaims();
    noteUpstreamChange(store, upstreamUrl, logger);
    store.setEtat('daemon_pid', String(process.pid));
    store.setEtat('serveur_url', upstreamUrl);
  } catch (error) {
    if ((error as { code?: string }).code !== 'SQLITE_FULL') throw error;
    locked.lock.release();
    process.stderr.write(`Erreur : disque plein, le relais ne peut pas démarrer sur ${config.db} : libérez de la place sur cet ordinateur.\n`);
    process.exitCode = 1;
    return;
  }
  const clock = createClockWatch(store, logger);
  const reserve = createDiskReserve(config.db);
  if (!reserve.ensure()) logger.warn({ db: config.db }, "Peu de place sur le disque du relais : libérez de la place sur cet ordinateur");
  // `--timeout` is the whole answer's deadline; no gap inside it may be longer either.
  const timeouts = { ...DEFAULT_TIMEOUTS, headersMs: config.timeoutMs, bodyMs: config.timeoutMs, deadlineMs: config.timeoutMs };
  const agent = createAgent(timeouts, config.ca ?? undefined);
  // The relay signs on the server's clock as measured (clock.ts), within ±300 s of it.
  const serverNowMs = () => Date.now() + clockCorrection(store.clockOffsetMs());
  const credentials = config.credentials ?? null;
  let trust: RelayTrust | undefined;
  const signer = credentials ? createRequestSigner(credentials, serverNowMs) : null;
  const metrics = createRelayMetrics(db, store);
  const upstream = metrics.instrument(createUpstream(config.upstream, agent, {
    timeouts,
    logger,
    ...(signer ? { signer, onTerminalsVersion: (version: string) => trust?.noteVersion(version) } : {}),
  }));
  const forwarder = createForwarder({
    store,
    upstream,
    config: {
      ...DEFAULT_FORWARDER_CONFIG,
      batchSize: config.batchSize,
      intervalMs: config.intervalMs,
      stockRetry: { ...STOCK_RETRY, maxAttempts: config.stockRetries },
    },
    logger,
    reserve,
    // Only sync answers that validate measure the clock: not a proxy's page, not a GET.
    onClockOffset: (offset) => clock.observe(offset),
    onForwarded: (outcome) => metrics.forwarded(outcome),
  });
  const directory = createTerminalDirectory(store, upstream);
  // Tills are judged on the server's time as the signer knows it (an EXPIRED answer teaches it at once).
  trust = createRelayTrust({ db, store, upstream, credentials, logger, nowMs: signer ? signer.serverNowMs : serverNowMs });
  const app = await buildRelayApp({ store, upstream, forwarder, directory, logger, trust, monitoring: { metrics, db, reserve } });

  const url = await app.listen({ host: config.host, port: config.port });
  // `daemon_url` is recorded by the app itself as it starts listening (the real address).
  logger.info({ url, upstream: upstream.baseUrl, db: config.db }, `ventesync relais à l'écoute sur ${url}, serveur central ${upstream.baseUrl}`);

  forwarder.start();
  // CONTRACT §7: the day before, checked against the server once a day (reconcile.ts says when).
  const dailyReconciliation = createDailyReconciliation({ store, books: createReconcileBooks(db), upstream, logger });
  dailyReconciliation.start();
  const refreshCatalogues = () =>
    directory.refreshCatalogues().catch((error: unknown) => logger.warn({ err: error }, 'Catalogue non rafraîchi'));
  void refreshCatalogues();
  // The tills' secrets at start; later whenever an answer names another version of the list.
  if (credentials) {
    logger.info({ relais_id: credentials.id }, `Relais enregistré n° ${credentials.id} : il signe ses envois et vérifie les signatures des caisses`);
    if (!trust.hasList()) {
      logger.warn(
        { relais_id: credentials.id, code: 'SERVICE_UNAVAILABLE' },
        `Caisses refusées (503) pour l'instant : ${NO_LIST_MESSAGE} (il réessaie toutes les ${NO_LIST_RETRY_EVERY_MS / 1000} s)`,
      );
    }
    void trust.refresh().catch((error: unknown) => logger.warn({ err: error }, 'Liste des terminaux non reçue'));
  }
  const listRetryTimer = setInterval(() => {
    if (credentials && !trust.hasList()) void trust.refresh().catch(() => undefined);
  }, NO_LIST_RETRY_EVERY_MS);
  // A registered relay tells the centre its state every minute (backlog, oldest wait, last success).
  const reporter = credentials
    ? createRelayReporter({ store, send: (body) => upstream.postRelayReport(body, REPORT_DEADLINE_MS), logger, version: RELAY_VERSION })
    : null;
  reporter?.start();
  const catalogueTimer = setInterval(refreshCatalogues, Math.max(config.intervalMs, 60_000));
  const checkpointTimer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (error) {
      logger.warn({ err: error }, 'Point de contrôle du fichier du relais impossible pour le moment');
    }
  }, CHECKPOINT_EVERY_MS);

  // The batch in flight is abandoned safely: its sales stay EN_ATTENTE and are resent.
  closeOnSignals(logger, async () => {
    clearInterval(catalogueTimer);
    clearInterval(listRetryTimer);
    clearInterval(checkpointTimer);
    await forwarder.stop();
    await reporter?.stop();
    await dailyReconciliation.stop();
    await app.close();
    await agent.close();
    store.setEtat('daemon_url', null);
    db.close();
    locked.lock.release();
    logger.info('Relais arrêté');
  });
}
