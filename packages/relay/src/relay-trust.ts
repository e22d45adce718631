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
    list = new Map(body.terminaux.map((t) => [t.serial, { boutique_id: t.boutique_id, actif: t.actif, secret: t.secret }]));
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

  load();
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
     * Whether a serial may go on to the relay's usual lookup. With credentials and a list, a
     * serial not in it, or listed inactive, is refused (404) as the server would: the relay
     * holds the server's word for its boutiques, and taking sales for a till the server will
     * refuse only makes sales that wait forever. A serial just added on the server is not
     * listed yet: one refresh, bounded, and at most every few seconds, settles it. If the
     * server cannot be reached, the till is taken as before (its sales wait for the server's
     * verdict): refusing a real till because the internet is down would lose the shop's sales.
     * With no list yet (the relay never reached the server), every till is taken as before.
     */
    async admits(serial: string): Promise<boolean> {
      if (!credentials || list === null) return true;
      let entry = list.get(serial);
      if (entry === undefined && Date.now() - unknownRefreshAt >= UNKNOWN_SERIAL_REFRESH_EVERY_MS) {
        unknownRefreshAt = Date.now();
        const verdict = await refresh(UNKNOWN_SERIAL_REFRESH_MS);
        entry = list.get(serial);
        if (entry === undefined && verdict !== 'ok') return true;
      }
      return entry !== undefined && entry.actif;
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
