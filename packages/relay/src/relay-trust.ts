import { createReplayGuard, SIGNATURE_MESSAGES, type SignatureDemand } from '@ventesync/runtime/http';
import { RelaisTerminauxResponseSchema, type RelaisTerminal } from '@ventesync/shared';
import type { Db } from './db/open-database.js';
import type { RelayCredentials } from './relay-credentials.js';
import type { RelayStore } from './relay-store.js';
import { deriveSecretsKey, openSecret, sealSecret } from './secret-box.js';
import type { Upstream } from './upstream.js';

/** How long a till waits, at most, while the relay asks the server about a serial it does not list. */
export const UNKNOWN_SERIAL_REFRESH_MS = 2_000;
/**
 * An unlisted serial triggers at most one refresh this often: a till (or a scanner) sending
 * made-up serials must not make the relay hammer the server.
 */
export const UNKNOWN_SERIAL_REFRESH_EVERY_MS = 10_000;
/** The fetch at start and after a version change: a person is not waiting on it. */
export const LIST_REFRESH_MS = 10_000;
/** A relay with credentials and no list tries the server this often, tills or not. */
export const NO_LIST_RETRY_EVERY_MS = 30_000;
/** The `etat` fact `status` and the shop's page show while the door is shut for want of the list. */
export const DOOR_SHUT_KEY = 'porte_fermee';
/** What a till refused for want of the server's word is told to wait before it tries again. */
export const DOOR_RETRY_AFTER_SECONDS = 30;

export const NO_LIST_MESSAGE =
  "le relais n'a pas encore reçu du serveur la liste de ses terminaux : il faut qu'il joigne le serveur une première fois";
export const UNKNOWN_SERIAL_WAIT_MESSAGE =
  "Terminal inconnu du relais, et le serveur ne peut pas être consulté pour l'instant : la caisse garde ses ventes et réessaiera";

/** The relay's verdict on a serial at its door, before the signature. */
export type Admission =
  | { kind: 'admitted' }
  | { kind: 'not-found' }
  /** The relay cannot tell yet (no list, or an unlisted serial with the server away): 503. */
  | { kind: 'wait'; message: string; retryAfterSeconds: number };

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface Entry {
  boutique_id: number;
  actif: boolean;
  secret: string | null;
}

/**
 * The relay's side of CONTRACT §6: the terminals of its boutiques and their secrets, learned
 * from the server over the relay's signed link, kept encrypted in its file for when the server
 * is away, and refreshed at start and whenever an answer of the server names another version of
 * the list (a secret issued or rotated reaches the relay at its next contact). It decides what a
 * till must do at the relay's door, with the same rules as the server.
 */
export function createRelayTrust(deps: {
  db: Db;
  store: RelayStore;
  upstream: Upstream;
  credentials: RelayCredentials | null;
  logger: Logger;
  /** The relay's clock corrected by the server's offset (ms). */
  nowMs: () => number;
}) {
  const { db, store, upstream, credentials, logger } = deps;
  const key = credentials ? deriveSecretsKey(credentials.secret) : null;
  const stmt = {
    all: db.prepare<[], { serial: string; boutique_id: number; actif: number; secret_chiffre: string | null }>(
      'SELECT serial, boutique_id, actif, secret_chiffre FROM terminaux_secrets',
    ),
    clear: db.prepare('DELETE FROM terminaux_secrets'),
    insert: db.prepare<[string, number, number, string | null]>(
      'INSERT INTO terminaux_secrets (serial, boutique_id, actif, secret_chiffre) VALUES (?, ?, ?, ?)',
    ),
  };

  let list: Map<string, Entry> | null = null;
  let version: string | null = null;
  let required = false;
  let inFlight: Promise<'ok' | 'unreachable' | 'refused'> | null = null;
  let unknownRefreshAt = Number.NEGATIVE_INFINITY;
  /** When the list was last received from the server (Date.now()), to trust a recent absence. */
  let listReceivedAt = Number.NEGATIVE_INFINITY;

  /** The list kept in the file, if it is this relay's (its key opens every secret). */
  function load(): void {
    if (!key || store.getEtat('terminaux_relais_id') !== String(credentials!.id)) return;
    const loaded = new Map<string, Entry>();
    for (const row of stmt.all.all()) {
      const secret = row.secret_chiffre === null ? null : openSecret(key, row.serial, row.secret_chiffre);
      // Sealed with another secret (the relay's was rotated) or altered: the list is not usable.
      if (row.secret_chiffre !== null && secret === null) return;
      loaded.set(row.serial, { boutique_id: row.boutique_id, actif: row.actif === 1, secret });
    }
    list = loaded;
    version = store.getEtat('terminaux_version');
    required = store.getEtat('signatures_requises') === 'oui';
  }

  const save = (terminaux: RelaisTerminal[], newVersion: string, requires: boolean) =>
    store.transaction(() => {
      stmt.clear.run();
      for (const t of terminaux) {
        stmt.insert.run(t.serial, t.boutique_id, t.actif ? 1 : 0, t.secret === null ? null : sealSecret(key!, t.serial, t.secret));
      }
      store.setEtats({
        terminaux_relais_id: String(credentials!.id),
        terminaux_version: newVersion,
        signatures_requises: requires ? 'oui' : 'non',
        terminaux_liste_le: new Date(deps.nowMs()).toISOString(),
      });
    });

  async function fetchList(timeoutMs: number): Promise<'ok' | 'unreachable' | 'refused'> {
    const answer = await upstream.getRelayTerminals(timeoutMs);
    if (answer.kind === 'network-error') return 'unreachable';
    const parsed = answer.status === 200 ? RelaisTerminauxResponseSchema.safeParse(answer.body) : null;
    if (!parsed?.success) {
      const code = (answer.body as { code?: unknown } | null)?.code;
      logger.warn(
        { statut: answer.status, code: typeof code === 'string' ? code.slice(0, 64) : null },
        `Liste des terminaux et de leurs secrets refusée par le serveur (réponse ${answer.status}${typeof code === 'string' ? ` ${code.slice(0, 64)}` : ''}) : vérifiez --relay-id et le secret du relais`,
      );
      return 'refused';
    }
    const body = parsed.data;
    try {
      save(body.terminaux, body.version, body.signatures_requises);
    } catch (error) {
      // The file refused the write (full disk): the list is used from memory until it can be kept.
      logger.warn({ code: (error as { code?: string }).code }, 'Liste des terminaux non gardée dans le fichier du relais pour le moment');
    }
    const opened = list === null;
    list = new Map(body.terminaux.map((t) => [t.serial, { boutique_id: t.boutique_id, actif: t.actif, secret: t.secret }]));
    listReceivedAt = Date.now();
    if (opened) noteDoor();
    const changed = version !== body.version;
    version = body.version;
    required = body.signatures_requises;
    if (changed) {
      const signing = body.terminaux.filter((t) => t.secret !== null).length;
      logger.info(
        { terminaux: body.terminaux.length, signent: signing, signatures_requises: required },
        `Terminaux des boutiques du relais reçus du serveur : ${body.terminaux.length}, dont ${signing} qui signent${required ? ' (signatures exigées)' : ''}`,
      );
    }
    return 'ok';
  }

  /** One fetch at a time; a caller in a hurry waits at most `timeoutMs` for it. */
  function refresh(timeoutMs = LIST_REFRESH_MS): Promise<'ok' | 'unreachable' | 'refused' | 'none'> {
    if (!credentials) return Promise.resolve('none');
    inFlight ??= fetchList(timeoutMs).finally(() => (inFlight = null));
    return inFlight;
  }

  /** Says in the file (for `status` and the page) whether the door is shut for want of the list. */
  function noteDoor(): void {
    const shut = credentials !== null && list === null;
    try {
      if (!shut) store.setEtat(DOOR_SHUT_KEY, null);
      else if (store.getEtat(DOOR_SHUT_KEY) === null) {
        store.setEtat(DOOR_SHUT_KEY, JSON.stringify({ depuis: new Date(deps.nowMs()).toISOString(), message: NO_LIST_MESSAGE }));
      }
    } catch {
      // A full disk: the log at start says it too.
    }
  }

  load();
  noteDoor();
  const replays = createReplayGuard(db, () => Math.floor(deps.nowMs() / 1000));

  return {
    refresh,
    replays,
    nowSeconds: () => Math.floor(deps.nowMs() / 1000),
    hasList: () => list !== null,
    version: () => version,
    signaturesRequired: () => required,
    lookup: (serial: string): Entry | undefined => list?.get(serial),
    /** Every answer to a relay-signed request names the list's version: another one is fetched. */
    noteVersion(seen: string): void {
      if (seen !== version && !inFlight) void refresh().catch(() => undefined);
    },

    /**
     * Whether a serial may go on to the relay's usual lookup. Without credentials, every till
     * (the relay checks no signature: its tills have no secrets for it). With credentials, the
     * list is the only word on who must sign: a serial is never admitted on anything else.
     * - No list yet (never reached the server, or the kept list no longer opens after the
     *   relay's secret was rotated): 503, the door stays shut, and the fetch is tried again.
     *   Admitting would let unsigned sales of a till that has a secret through, under the
     *   relay's own signature.
     * - Listed: admitted when active, else 404 as the server would.
     * - Not listed: one refresh (bounded, at most every few seconds) settles it. The server's
     *   fresh list without it: 404. No fresh answer (server away, refresh throttled): 503, the
     *   till keeps its sales and retries; a till just added waits for the connection.
     */
    async admit(serial: string): Promise<Admission> {
      if (!credentials) return { kind: 'admitted' };
      const wait = (message: string): Admission => ({ kind: 'wait', message, retryAfterSeconds: DOOR_RETRY_AFTER_SECONDS });
      const refreshAllowed = () => Date.now() - unknownRefreshAt >= UNKNOWN_SERIAL_REFRESH_EVERY_MS;
      if (list === null) {
        if (refreshAllowed()) {
          unknownRefreshAt = Date.now();
          await refresh(UNKNOWN_SERIAL_REFRESH_MS);
        }
        if (list === null) return wait(`Relais pas prêt : ${NO_LIST_MESSAGE}`);
      }
      let entry = list.get(serial);
      if (entry === undefined && Date.now() - listReceivedAt >= UNKNOWN_SERIAL_REFRESH_EVERY_MS) {
        if (!refreshAllowed()) return wait(UNKNOWN_SERIAL_WAIT_MESSAGE);
        unknownRefreshAt = Date.now();
        const verdict = await refresh(UNKNOWN_SERIAL_REFRESH_MS);
        if (verdict !== 'ok') return wait(UNKNOWN_SERIAL_WAIT_MESSAGE);
        entry = list.get(serial);
      }
      return entry !== undefined && entry.actif ? { kind: 'admitted' } : { kind: 'not-found' };
    },

    /** CONTRACT §6 at the relay's door: a till with a secret must sign; one without is served unless the server requires signatures. */
    demand(serial: string): SignatureDemand {
      const entry = list?.get(serial);
      if (entry?.secret) return { key: entry.secret };
      if (required) {
        return { code: 'SIGNATURE_REQUIRED', message: `${SIGNATURE_MESSAGES.SIGNATURE_REQUIRED} : donnez-lui un secret (ventesync-server terminal secret ${serial})` };
      }
      return null;
    },
  };
}

export type RelayTrust = ReturnType<typeof createRelayTrust>;
