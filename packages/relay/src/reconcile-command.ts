import { parseDay } from '@ventesync/shared';
import { existsSync, readFileSync } from 'node:fs';
import { clockCorrection } from './clock.js';
import { openDatabase } from './db/open-database.js';
import {
  createReconcileBooks,
  exitStatusOf,
  jsonExact,
  LAST_RECONCILIATION_KEY,
  lastReconciliationOf,
  reconcile,
  type ReconcileUpstream,
  type ReconciliationReport,
  renderReconciliation,
  tillsOf,
  yesterdayLocal,
} from './reconcile.js';
import { loadRelayCredentials } from './relay-credentials.js';
import { createRelayStore, type RelayStore } from './relay-store.js';
import { createRequestSigner } from './request-signer.js';
import { createAgent, createUpstream, DEFAULT_TIMEOUTS } from './upstream.js';

export interface ReconcileCommandOptions {
  db: string;
  /** AAAA-MM-JJ; default the day before, on this machine's calendar. */
  jour?: string | undefined;
  json: boolean;
  /** The server to ask; default the one the relay was last started with. */
  upstream?: string | undefined;
}

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Builds the upstream the command asks through: signed when the relay has credentials (the
 * daemon's own rules). Returns null, with the reason said, when it cannot be built.
 */
export type UpstreamFactory = (url: string, store: RelayStore) => Promise<{ upstream: ReconcileUpstream; close(): Promise<void> } | { erreur: string }>;

/** Unsigned, as a relay without credentials talks to the server. */
export const plainUpstream: UpstreamFactory = async (url) => {
  const agent = createAgent();
  return { upstream: createUpstream(url, agent), close: () => agent.close() };
};

/**
 * As the daemon talks to the server: signed with the relay's credentials when it has some
 * (`--relay-id` / `--relay-secret-file`, else the environment, as for `start`), on the
 * server's clock as last measured; `--ca` for a server whose certificate a private authority signed.
 */
export function relayUpstream(options: { relayId?: string | undefined; relaySecretFile?: string | undefined; ca?: string | undefined }): UpstreamFactory {
  return async (url, store) => {
    const loaded = loadRelayCredentials({ relayId: options.relayId, relaySecretFile: options.relaySecretFile });
    if (!loaded.ok) return { erreur: loaded.erreur };
    let ca: Buffer | undefined;
    if (options.ca !== undefined) {
      try {
        ca = readFileSync(options.ca);
      } catch {
        return { erreur: `--ca : fichier illisible « ${options.ca} » (le certificat PEM de l'autorité)` };
      }
    }
    const agent = createAgent(DEFAULT_TIMEOUTS, ca);
    const serverNowMs = () => Date.now() + clockCorrection(store.clockOffsetMs());
    const signer = loaded.credentials ? createRequestSigner(loaded.credentials, serverNowMs) : undefined;
    return { upstream: createUpstream(url, agent, signer ? { signer } : {}), close: () => agent.close() };
  };
}

/** Exit statuses: 0 all agree, 1 a disagreement (or a usage error), 2 the server could not be asked. */
export const EXIT_SERVER_UNREACHED = 2;

/**
 * `ventesync-relay reconcile`: asks the server about each till, compares, says it, keeps the
 * verdict for `status`. Returns the exit status.
 */
export async function runReconcileCommand(opts: ReconcileCommandOptions, io: CommandIo, makeUpstream: UpstreamFactory = plainUpstream, now: Date = new Date()): Promise<number> {
  const jour = opts.jour ?? yesterdayLocal(now);
  if (parseDay(jour) === null) {
    io.err(`Erreur : --jour : jour réel AAAA-MM-JJ attendu (ex. 2025-10-29), pas « ${jour.slice(0, 20)} »`);
    return 1;
  }
  if (opts.db !== ':memory:' && !existsSync(opts.db)) {
    io.err(`Erreur : aucun fichier de relais « ${opts.db} » : vérifiez le chemin (--db, sinon VENTESYNC_RELAY_DB, sinon ./data/relay.db).`);
    return 1;
  }
  const db = openDatabase(opts.db);
  try {
    const store = createRelayStore(db);
    const url = opts.upstream ?? store.getEtat('serveur_url');
    if (!url) {
      io.err('Erreur : le relais ne connaît pas encore son serveur central : donnez --upstream http://serveur:8000 (ou démarrez le relais une fois).');
      return 1;
    }
    try {
      new URL(url);
    } catch {
      io.err(`Erreur : --upstream : adresse invalide « ${url} » (ex. http://serveur:8000)`);
      return 1;
    }
    const made = await makeUpstream(url, store);
    if ('erreur' in made) {
      io.err(`Erreur : ${made.erreur}`);
      return 1;
    }
    let report: ReconciliationReport;
    try {
      report = await reconcile(made.upstream, createReconcileBooks(db), tillsOf(store), jour, now);
    } finally {
      await made.close();
    }
    store.setEtat(LAST_RECONCILIATION_KEY, JSON.stringify(lastReconciliationOf(report, false)));
    io.out(opts.json ? jsonExact(report) : renderReconciliation(report).join('\n'));
    const status = exitStatusOf(report);
    if (status === EXIT_SERVER_UNREACHED) io.err(`Erreur : le serveur ${url} n'a pas pu être interrogé pour ${report.non_verifies} terminal(aux) : rien n'est vérifié pour eux.`);
    return status;
  } finally {
    db.close();
  }
}
