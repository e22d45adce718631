import type { Article, VenteStatut } from '@ventesync/shared';
import { randomBytes } from 'node:crypto';
import type { Db } from './db/open-database.js';
import { createRetourStore, saleInReach } from './retour-store.js';

/** Held sales add a fourth state to the contract's three: a person discarded it. */
export type HeldStatut = VenteStatut | 'ABANDONNEE';
export type TerminalStatut = 'CONNU' | 'INCONNU' | 'NON_VERIFIE';

export interface HeldVente {
  id: number;
  serial: string;
  boutique_id: number | null;
  numero_facture: string;
  numero_genere: number;
  /** The sale as it will be forwarded: JSON text, numero included. */
  contenu: string;
  empreinte: string;
  montant_total: number;
  statut: HeldStatut;
  recue_le: string;
  tentatives: number;
  tentatives_stock: number;
  prochaine_tentative: string | null;
  code_erreur: string | null;
  erreur: string | null;
  montant_serveur: string | null;
  synchronisee_le: string | null;
  decision: string | null;
  decision_le: string | null;
  /** When the batch holding it was claimed for sending; null when no send is under way. */
  en_vol: string | null;
  /** What the relay adds to a person's decision (a discarded sale the server had anyway). */
  note: string | null;
  /** The server's warnings on the created sale (CONTRACT §7, e.g. STOCK_NEGATIF), JSON text; null when none. */
  avertissements: string | null;
}

/** One send of a sale and what came of it (schema v2: kept through retry). */
export type TentativeResultat = 'SYNCHRONISEE' | 'REJETEE' | 'REFUS_STOCK' | 'SANS_REPONSE' | 'ECHEC';
export interface Tentative {
  le: string;
  resultat: TentativeResultat;
  code: string | null;
  message: string | null;
}

/**
 * A claim older than this is left over by a relay that died mid-send: it no longer stops a
 * person from discarding the sale (a send gives up after its timeout, 30 s by default).
 */
export const CLAIM_STALE_MS = 10 * 60_000;

export const DISCARDED_BUT_SYNCED = "Abandonnée par une personne, mais le serveur l'a reçue : comptée comme synchronisée";

export interface TerminalInfo {
  serial: string;
  statut: TerminalStatut;
  boutique_id: number | null;
  boutique_nom: string | null;
  terminal_nom: string | null;
  verifie_le: string | null;
  derniere_sync: string | null;
  derniere_erreur: string | null;
  erreur_le: string | null;
}

export interface NewHeldVente {
  serial: string;
  boutique_id: number | null;
  numero_facture: string;
  numero_genere: boolean;
  contenu: string;
  empreinte: string;
  montant_total: number;
  recue_le: string;
}

export interface SerialSummary {
  serial: string;
  en_attente: number;
  synchronisees: number;
  rejetees: number;
  abandonnees: number;
  plus_ancienne_en_attente: string | null;
  /** Waiting sales the server refused for now (stock): sent again later, or by `sync`. */
  en_attente_refusees: number;
}

/** Sales looked at for one return's numero: more than one already means the relay cannot tell which. */
const MAX_SALES_IN_REACH = 4;

/** The code of a failed send after which the server may have the sales (reset, timeout, unreadable answer). */
export const NO_VERDICT = 'SANS_VERDICT';

/**
 * A send of the sale may have reached the server (no clear answer: reset, timeout, an answer
 * that did not read or did not name it) and no answer has told since whether the server has it.
 * A claim with no outcome written since it was taken is such a send too: every send writes its
 * outcome in the transaction that releases the claim, so a claim left without one is a relay
 * killed mid-send (kill -9, power cut) whose history says nothing until it restarts.
 */
const VERDICT_UNKNOWN = `(EXISTS (
  SELECT 1 FROM tentatives u WHERE u.vente_id = ventes.id
    AND (u.resultat = 'SANS_REPONSE' OR (u.resultat = 'ECHEC' AND u.code = '${NO_VERDICT}'))
    AND u.id > COALESCE((SELECT MAX(c.id) FROM tentatives c
      WHERE c.vente_id = ventes.id AND c.resultat IN ('SYNCHRONISEE', 'REJETEE', 'REFUS_STOCK')), 0))
  OR (ventes.en_vol IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM tentatives o WHERE o.vente_id = ventes.id AND o.le >= ventes.en_vol)))`;

const VENTE_COLUMNS = `id, serial, boutique_id, numero_facture, numero_genere, contenu, empreinte, montant_total, statut,
  recue_le, tentatives, tentatives_stock, prochaine_tentative, code_erreur, erreur, montant_serveur, synchronisee_le,
  decision, decision_le, en_vol, note, avertissements`;

/** A warning the server gave on a sale it created (CONTRACT §7): codes this relay does not know are kept too. */
export interface SaleWarning {
  code: string;
  article_id?: number;
  manque?: number;
}

/** A warning in words, for the sale's history and `show`. */
export function describeWarning(w: SaleWarning): string {
  if (w.code === 'STOCK_NEGATIF') {
    return `stock négatif : article n° ${w.article_id ?? '?'}, ${w.manque ?? '?'} unité(s) vendue(s) sans stock (${w.code})`;
  }
  return `avertissement du serveur ${w.code}`;
}

/** Everything the relay keeps, in one SQLite file shared by the daemon and the CLI. */
export function createRelayStore(db: Db) {
  const stmt = {
    insertVente: db.prepare<[string, number | null, string, number, string, string, number, string], { id: number }>(`
      INSERT INTO ventes (serial, boutique_id, numero_facture, numero_genere, contenu, empreinte, montant_total, recue_le)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
    // Duplicate scope: the boutique when the relay knows it, else the till itself.
    heldInScope: db.prepare<[string, number | null, number | null, string], HeldVente>(`
      SELECT ${VENTE_COLUMNS} FROM ventes
      WHERE numero_facture = ? AND statut <> 'ABANDONNEE' AND ((? IS NOT NULL AND boutique_id = ?) OR serial = ?)
      LIMIT 1`),
    // The held sales a return of this till may refer to (saleInReach), the surest first: the
    // till's own, then its boutique's; at most a few (the numero is unique per till or boutique).
    salesInReach: db.prepare<{ numero: string; serial: string; boutique: number | null }, HeldVente>(`
      SELECT ${VENTE_COLUMNS} FROM ventes
      WHERE numero_facture = @numero AND statut <> 'ABANDONNEE' AND ${saleInReach('ventes', '@serial', '@boutique')}
      ORDER BY serial = @serial DESC, (boutique_id IS NOT NULL AND boutique_id = @boutique) DESC, id
      LIMIT ${MAX_SALES_IN_REACH}`),
    numeroTaken: db.prepare<[string], number>('SELECT 1 FROM ventes WHERE numero_facture = ? LIMIT 1').pluck(),
    serialsDue: db
      .prepare<[string, string], string>(`
        SELECT DISTINCT serial FROM ventes
        WHERE statut = 'EN_ATTENTE' AND (prochaine_tentative IS NULL OR prochaine_tentative <= ? OR prochaine_tentative > ?)
        ORDER BY serial`)
      .pluck(),
    hasSalesDue: db
      .prepare<[string, string, string, string], number>(`
        SELECT 1 FROM ventes
        WHERE statut = 'EN_ATTENTE' AND serial = ? AND en_vol IS NULL
          AND (prochaine_tentative IS NULL OR prochaine_tentative <= ? OR prochaine_tentative > ?)
          AND id NOT IN (SELECT value FROM json_each(?))
        LIMIT 1`)
      .pluck(),
    // Per till, the earliest stock retry still to come; sales set aside by the forwarder (JSON
    // list of ids) and sales in flight wait on something else.
    nextDuePerTill: db.prepare<[string], { serial: string; due: string }>(`
      SELECT serial, MIN(prochaine_tentative) AS due FROM ventes
      WHERE statut = 'EN_ATTENTE' AND en_vol IS NULL AND prochaine_tentative IS NOT NULL
        AND id NOT IN (SELECT value FROM json_each(?))
      GROUP BY serial`),
    // A retry time beyond `horizon` can only come from a wall clock that jumped back since it
    // was written: it is due now rather than in days.
    claimable: db.prepare<[string, string, string, number], HeldVente>(`
      SELECT ${VENTE_COLUMNS} FROM ventes
      WHERE statut = 'EN_ATTENTE' AND serial = ? AND en_vol IS NULL
        AND (prochaine_tentative IS NULL OR prochaine_tentative <= ? OR prochaine_tentative > ?)
      ORDER BY id LIMIT ?`),
    claimableById: db.prepare<[number], HeldVente>(
      `SELECT ${VENTE_COLUMNS} FROM ventes WHERE id = ? AND statut = 'EN_ATTENTE' AND en_vol IS NULL`,
    ),
    claim: db.prepare<[string, number]>("UPDATE ventes SET en_vol = ? WHERE id = ? AND statut = 'EN_ATTENTE'"),
    release: db.prepare<[number]>('UPDATE ventes SET en_vol = NULL WHERE id = ?'),
    releaseAll: db.prepare('UPDATE ventes SET en_vol = NULL WHERE en_vol IS NOT NULL'),
    // A send cut short by the relay's end: the server may have the sales (see `verdictUnknown`).
    noteInterrupted: db.prepare<[string, string]>(`
      INSERT INTO tentatives (vente_id, le, resultat, code, message)
      SELECT id, ?, 'ECHEC', '${NO_VERDICT}', ? FROM ventes WHERE en_vol IS NOT NULL AND statut = 'EN_ATTENTE'`),
    countAttempt: db.prepare<[number]>('UPDATE ventes SET tentatives = tentatives + 1 WHERE id = ?'),
    // The server's word wins over a person's discard: it has the sale, so the books must say so.
    markSynced: db.prepare<[string | null, string, string | null, string, number]>(`
      UPDATE ventes SET montant_serveur = ?, synchronisee_le = ?, avertissements = ?, prochaine_tentative = NULL, code_erreur = NULL, erreur = NULL,
        note = CASE WHEN statut = 'ABANDONNEE' THEN ? ELSE note END, statut = 'SYNCHRONISEE'
      WHERE id = ? AND statut IN ('EN_ATTENTE', 'ABANDONNEE')`),
    insertTentative: db.prepare<[number, string, TentativeResultat, string | null, string | null]>(
      'INSERT INTO tentatives (vente_id, le, resultat, code, message) VALUES (?, ?, ?, ?, ?)',
    ),
    tentatives: db.prepare<[number], Tentative>('SELECT le, resultat, code, message FROM tentatives WHERE vente_id = ? ORDER BY id'),
    markRejected: db.prepare<[string, string, number]>(`
      UPDATE ventes SET statut = 'REJETEE', code_erreur = ?, erreur = ?, prochaine_tentative = NULL
      WHERE id = ? AND statut = 'EN_ATTENTE'`),
    scheduleStockRetry: db.prepare<[string, string, number]>(`
      UPDATE ventes SET tentatives_stock = tentatives_stock + 1, code_erreur = 'INSUFFICIENT_STOCK', erreur = ?,
        prochaine_tentative = ?
      WHERE id = ? AND statut = 'EN_ATTENTE'`),
    byNumero: db.prepare<[string], HeldVente>(`SELECT ${VENTE_COLUMNS} FROM ventes WHERE numero_facture = ? ORDER BY id`),
    byStatut: db.prepare<[string, string | null, string | null, number, number], HeldVente>(`
      SELECT ${VENTE_COLUMNS} FROM ventes WHERE statut = ? AND (? IS NULL OR serial = ?) ORDER BY id LIMIT ? OFFSET ?`),
    countStatut: db
      .prepare<[string, string | null, string | null], number>('SELECT COUNT(*) FROM ventes WHERE statut = ? AND (? IS NULL OR serial = ?)')
      .pluck(),
    // Also a sale waiting out a stock refusal: a person says the stock is there now. The old
    // verdict is cleared (it stays in `tentatives`): the sale no longer waits because of it.
    // One numero (an abandoned sale too), or every one (@numero NULL: rejected and stock-waiting
    // sales only). Never a sale in flight: its answer would be judged against the counters
    // this resets (a stock refusal counted from the old tentatives_stock).
    retry: db.prepare<[{ numero: string | null; stale: string; serial: string | null }]>(`
      UPDATE ventes SET statut = 'EN_ATTENTE', tentatives_stock = 0, prochaine_tentative = NULL, decision = NULL, decision_le = NULL,
        code_erreur = NULL, erreur = NULL
      WHERE (@numero IS NULL OR numero_facture = @numero) AND (@serial IS NULL OR serial = @serial)
        AND (statut = 'REJETEE' OR (statut = 'ABANDONNEE' AND @numero IS NOT NULL)
          OR (statut = 'EN_ATTENTE' AND prochaine_tentative IS NOT NULL AND (en_vol IS NULL OR en_vol < @stale)))`),
    // `sync`: a person asks for everything to go now, stock refusals included.
    dueNow: db.prepare(`UPDATE ventes SET prochaine_tentative = NULL WHERE statut = 'EN_ATTENTE' AND prochaine_tentative IS NOT NULL`),
    discard: db.prepare<[string, string, string, string | null, string | null, string]>(`
      UPDATE ventes SET statut = 'ABANDONNEE', decision = ?, decision_le = ?, prochaine_tentative = NULL
      WHERE numero_facture = ? AND (? IS NULL OR serial = ?) AND statut IN ('REJETEE', 'EN_ATTENTE') AND (en_vol IS NULL OR en_vol < ?)
        AND NOT ${VERDICT_UNKNOWN}`),
    verdictUnknown: db
      .prepare<[string, string | null, string | null], number>(`
        SELECT 1 FROM ventes WHERE numero_facture = ? AND (? IS NULL OR serial = ?) AND statut IN ('REJETEE', 'EN_ATTENTE') AND ${VERDICT_UNKNOWN} LIMIT 1`)
      .pluck(),
    inFlight: db
      .prepare<[string, string | null, string | null, string], number>(`
        SELECT 1 FROM ventes WHERE numero_facture = ? AND (? IS NULL OR serial = ?) AND statut = 'EN_ATTENTE' AND en_vol IS NOT NULL AND en_vol >= ? LIMIT 1`)
      .pluck(),
    // The tills whose sale of this numero a person's decision could mean (a numero is unique per
    // till or boutique only): more than one, the decision needs the till.
    discardableTills: db
      .prepare<[string], string>(`SELECT DISTINCT serial FROM ventes WHERE numero_facture = ? AND statut IN ('REJETEE', 'EN_ATTENTE') ORDER BY serial`)
      .pluck(),
    retryableTills: db
      .prepare<[string], string>(`
        SELECT DISTINCT serial FROM ventes WHERE numero_facture = ?
          AND (statut IN ('REJETEE', 'ABANDONNEE') OR (statut = 'EN_ATTENTE' AND prochaine_tentative IS NOT NULL)) ORDER BY serial`)
      .pluck(),
    purge: db.prepare<[string]>(`DELETE FROM ventes WHERE statut = 'SYNCHRONISEE' AND synchronisee_le < ?`),
    summary: db.prepare<[], SerialSummary>(`
      SELECT serial,
        SUM(statut = 'EN_ATTENTE') AS en_attente,
        SUM(statut = 'SYNCHRONISEE') AS synchronisees,
        SUM(statut = 'REJETEE') AS rejetees,
        SUM(statut = 'ABANDONNEE') AS abandonnees,
        MIN(CASE WHEN statut = 'EN_ATTENTE' THEN recue_le END) AS plus_ancienne_en_attente,
        SUM(statut = 'EN_ATTENTE' AND code_erreur IS NOT NULL) AS en_attente_refusees
      FROM ventes GROUP BY serial ORDER BY serial`),
    // The server's latest verdict on a till's waiting sales, for `status` (one sale's reason).
    waitingReason: db.prepare<[string], { numero_facture: string; code_erreur: string; erreur: string | null; prochaine_tentative: string | null }>(`
      SELECT numero_facture, code_erreur, erreur, prochaine_tentative FROM ventes
      WHERE statut = 'EN_ATTENTE' AND serial = ? AND code_erreur IS NOT NULL ORDER BY id LIMIT 1`),

    terminal: db.prepare<[string], TerminalInfo>('SELECT * FROM terminaux WHERE serial = ?'),
    terminaux: db.prepare<[], TerminalInfo>('SELECT * FROM terminaux ORDER BY serial'),
    knownTerminals: db.prepare<[], TerminalInfo>(
      "SELECT * FROM terminaux WHERE statut = 'CONNU' GROUP BY boutique_id ORDER BY serial",
    ),
    saveTerminal: db.prepare<[string, TerminalStatut, number | null, string | null, string | null, string]>(`
      INSERT INTO terminaux (serial, statut, boutique_id, boutique_nom, terminal_nom, verifie_le) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (serial) DO UPDATE SET statut = excluded.statut,
        boutique_id = COALESCE(excluded.boutique_id, boutique_id),
        boutique_nom = COALESCE(excluded.boutique_nom, boutique_nom),
        terminal_nom = COALESCE(excluded.terminal_nom, terminal_nom),
        verifie_le = excluded.verifie_le`),
    fillBoutique: db.prepare<[number, string]>('UPDATE ventes SET boutique_id = ? WHERE serial = ? AND boutique_id IS NULL'),
    terminalSynced: db.prepare<[string, string]>(`
      INSERT INTO terminaux (serial, statut, derniere_sync) VALUES (?, 'NON_VERIFIE', ?)
      ON CONFLICT (serial) DO UPDATE SET derniere_sync = excluded.derniere_sync, derniere_erreur = NULL, erreur_le = NULL`),
    terminalError: db.prepare<[string, string, string]>(`
      INSERT INTO terminaux (serial, statut, derniere_erreur, erreur_le) VALUES (?, 'NON_VERIFIE', ?, ?)
      ON CONFLICT (serial) DO UPDATE SET derniere_erreur = excluded.derniere_erreur, erreur_le = excluded.erreur_le`),

    clearCatalogue: db.prepare<[number]>('DELETE FROM catalogue WHERE boutique_id = ?'),
    insertArticle: db.prepare<[number, number, string, number, number]>(
      'INSERT INTO catalogue (boutique_id, article_id, nom, prix_vente, quantite_stock) VALUES (?, ?, ?, ?, ?)',
    ),
    catalogueDate: db.prepare<[number, string]>(`
      INSERT INTO catalogue_maj (boutique_id, mis_a_jour) VALUES (?, ?)
      ON CONFLICT (boutique_id) DO UPDATE SET mis_a_jour = excluded.mis_a_jour`),
    catalogue: db.prepare<[number], { article_id: number; nom: string; prix_vente: number; quantite_stock: number }>(
      'SELECT article_id, nom, prix_vente, quantite_stock FROM catalogue WHERE boutique_id = ? ORDER BY article_id',
    ),
    catalogueArticle: db.prepare<[number, number], { nom: string; prix_vente: number }>(
      'SELECT nom, prix_vente FROM catalogue WHERE boutique_id = ? AND article_id = ?',
    ),
    catalogueUpdated: db
      .prepare<[number], string>('SELECT mis_a_jour FROM catalogue_maj WHERE boutique_id = ?')
      .pluck(),

    getEtat: db.prepare<[string], string | null>('SELECT valeur FROM etat WHERE cle = ?').pluck(),
    setEtat: db.prepare<[string, string | null]>(
      'INSERT INTO etat (cle, valeur) VALUES (?, ?) ON CONFLICT (cle) DO UPDATE SET valeur = excluded.valeur',
    ),
  };

  const getEtat = (cle: string) => stmt.getEtat.get(cle) ?? null;
  const setEtat = (cle: string, valeur: string | null) => void stmt.setEtat.run(cle, valeur);
  const setEtats = (values: Record<string, string | null>) =>
    db.transaction(() => {
      for (const [cle, valeur] of Object.entries(values)) stmt.setEtat.run(cle, valeur);
    })();

  function claim(now: Date, pick: () => HeldVente[]): HeldVente[] {
    db.pragma('synchronous = NORMAL');
    try {
      return db
        .transaction(() => {
          const batch = pick();
          const at = now.toISOString();
          for (const v of batch) {
            stmt.claim.run(at, v.id);
            v.en_vol = at;
          }
          return batch;
        })
        .immediate();
    } finally {
      db.pragma('synchronous = FULL');
    }
  }

  const retours = createRetourStore(db);

  return {
    /** Returns held like sales, in the same file (retour-store.ts). */
    retours,
    getEtat,
    setEtat,
    setEtats,
    /** Whether the server answered at all (any HTTP status) the last time it was asked. */
    recordServerAnswered: (answered: boolean, at: Date) =>
      setEtats({ serveur_joignable: answered ? 'oui' : 'non', serveur_verifie_le: at.toISOString() }),
    /** A stable id of this relay, so that the numeros it generates never meet another's. */
    relayId(): string {
      let id = getEtat('relais_id');
      if (!id) {
        id = randomBytes(3).toString('hex');
        setEtat('relais_id', id);
      }
      return id;
    },

    insertVente: (v: NewHeldVente): number =>
      stmt.insertVente.get(v.serial, v.boutique_id, v.numero_facture, v.numero_genere ? 1 : 0, v.contenu, v.empreinte, v.montant_total, v.recue_le)!.id,
    heldInScope: (numero: string, boutiqueId: number | null, serial: string) =>
      stmt.heldInScope.get(numero, boutiqueId, boutiqueId, serial),
    numeroTaken: (numero: string) => stmt.numeroTaken.get(numero) !== undefined,
    /**
     * The held sale a return of this till refers to, to check the return against and price it:
     * the till's own sale or its boutique's when there is one; else the one sale in reach whose
     * boutique is not known yet (saleInReach). Several of those (tills of different boutiques,
     * none known yet, with the same numero): the relay cannot tell which, the server judges.
     */
    saleOfRetour(numero: string, boutiqueId: number | null, serial: string): HeldVente | undefined {
      const found = stmt.salesInReach.all({ numero, serial, boutique: boutiqueId });
      const sure = found.filter((v) => v.serial === serial || (boutiqueId !== null && v.boutique_id === boutiqueId));
      if (sure.length > 0) return sure[0];
      return found.length === 1 ? found[0] : undefined;
    },

    /** Tills with sales due; a retry time beyond `horizon` counts as due (see `claimable`). */
    serialsDue: (now: Date, horizon: Date = new Date('9999-12-31T23:59:59.999Z')) => stmt.serialsDue.all(now.toISOString(), horizon.toISOString()),
    /** Whether the till has a sale it could send now, leaving out `aside` and sales in flight. */
    hasSalesDue: (serial: string, now: Date, horizon: Date, aside: readonly number[] = []) =>
      stmt.hasSalesDue.get(serial, now.toISOString(), horizon.toISOString(), JSON.stringify(aside)) !== undefined,
    /** Per till, its earliest stock retry to come, leaving out `aside` (sales the forwarder set aside). */
    nextDuePerTill: (aside: readonly number[] = []) => stmt.nextDuePerTill.all(JSON.stringify(aside)),
    /**
     * Takes up to `limit` of the till's due sales, oldest first, leaving out `skip` (sales set
     * aside by the forwarder), and marks them in flight (`en_vol`) in the same transaction:
     * nothing else sends them, and a person cannot discard them, until `release`.
     * The claim is written without waiting for the disk (synchronous=NORMAL): a claim lost in
     * a power cut is harmless, since a starting relay clears every claim anyway, and the batch's
     * answer is recorded with a full flush that also carries it.
     */
    claimBatch(serial: string, now: Date, horizon: Date, limit: number, skip: ReadonlySet<number> = new Set()): HeldVente[] {
      return claim(now, () =>
        stmt.claimable.all(serial, now.toISOString(), horizon.toISOString(), limit + skip.size).filter((v) => !skip.has(v.id)).slice(0, limit),
      );
    },
    /** The same for given sales (one set aside, sent alone): those still waiting and not in flight. */
    claimSales: (ids: readonly number[], now: Date): HeldVente[] =>
      claim(now, () => ids.flatMap((id) => stmt.claimableById.all(id))),
    release: (ids: readonly number[]) => ids.forEach((id) => stmt.release.run(id)),
    /**
     * At start, under the relay's lock: a claim left by a relay that died is void. Its send
     * may have reached the server: noted as such, so the sale cannot be discarded before the
     * server has answered for it.
     */
    releaseAllClaims: (now: Date = new Date()) =>
      db
        .transaction(() => {
          stmt.noteInterrupted.run(now.toISOString(), "Envoi interrompu (le relais s'est arrêté pendant l'envoi)");
          retours.releaseAll(now);
          return stmt.releaseAll.run().changes;
        })
        .immediate(),
    /**
     * The server's clock minus this machine's, as last measured (ms); 0 while it is within
     * the measuring error. The relay stamps `date_vente` with it.
     */
    clockOffsetMs(): number {
      const value = Number(getEtat('decalage_horloge_ms'));
      return Number.isFinite(value) ? value : 0;
    },
    /**
     * Counts a send of these sales. With `failure`, the send taught nothing of them (network,
     * 5xx, an answer that did not mention them): that is kept in their history too.
     */
    countAttempt(ids: number[], failure?: { at: Date; reason: string; unsure?: boolean }) {
      for (const id of ids) {
        stmt.countAttempt.run(id);
        if (failure) stmt.insertTentative.run(id, failure.at.toISOString(), 'ECHEC', failure.unsure ? NO_VERDICT : null, failure.reason);
      }
    },
    /** Each verdict below is also written to the sale's history (`tentatives`). */
    markSynced(id: number, montantServeur: string | null, now: Date, avertissements: readonly SaleWarning[] | null = null) {
      const at = now.toISOString();
      const warnings = avertissements && avertissements.length > 0 ? avertissements : null;
      const changed = stmt.markSynced.run(montantServeur, at, warnings && JSON.stringify(warnings), DISCARDED_BUT_SYNCED, id);
      if (changed.changes > 0) {
        const said = [montantServeur === null ? null : `montant ${montantServeur}`, ...(warnings ?? []).map(describeWarning)];
        stmt.insertTentative.run(id, at, 'SYNCHRONISEE', warnings?.[0]?.code ?? null, said.filter((s) => s !== null).join(' ; ') || null);
      }
      return changed;
    },
    markRejected(id: number, code: string, erreur: string, now: Date = new Date()) {
      const changed = stmt.markRejected.run(code, erreur, id);
      if (changed.changes > 0) stmt.insertTentative.run(id, now.toISOString(), 'REJETEE', code, erreur);
      return changed;
    },
    scheduleStockRetry(id: number, erreur: string, at: Date, now: Date = new Date()) {
      const changed = stmt.scheduleStockRetry.run(erreur, at.toISOString(), id);
      if (changed.changes > 0) stmt.insertTentative.run(id, now.toISOString(), 'REFUS_STOCK', 'INSUFFICIENT_STOCK', erreur);
      return changed;
    },
    recordAttempt: (id: number, at: Date, resultat: TentativeResultat, code: string | null, message: string | null) =>
      void stmt.insertTentative.run(id, at.toISOString(), resultat, code, message),
    tentatives: (id: number) => stmt.tentatives.all(id),
    /**
     * IMMEDIATE: takes the write lock before the first read, so no other connection (the CLI)
     * can commit between this transaction's reads and its writes (SQLITE_BUSY_SNAPSHOT).
     */
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),

    byNumero: (numero: string) => stmt.byNumero.all(numero),
    byStatut: (statut: HeldStatut, serial: string | null = null, limit = 10_000, offset = 0) =>
      stmt.byStatut.all(statut, serial, serial, limit, offset),
    countStatut: (statut: HeldStatut, serial: string | null = null) => stmt.countStatut.get(statut, serial, serial) ?? 0,
    summary: () => stmt.summary.all(),
    waitingReason: (serial: string) => stmt.waitingReason.get(serial),
    /**
     * Back to EN_ATTENTE: a person corrected the cause (stock, catalogue) and wants it sent again.
     * `serial`: only that till's sale of each numero (null: every till's; see retryableTills).
     */
    retry: (numeros: string[], now: Date = new Date(), serial: string | null = null) => {
      const stale = new Date(now.getTime() - CLAIM_STALE_MS).toISOString();
      return db.transaction(() => numeros.map((numero) => stmt.retry.run({ numero, stale, serial }).changes)).immediate();
    },
    retryAllRejected: (now: Date = new Date()) =>
      stmt.retry.run({ numero: null, stale: new Date(now.getTime() - CLAIM_STALE_MS).toISOString(), serial: null }).changes,
    /** Tills holding a sale of this numero that a discard could mean. */
    discardableTills: (numero: string) => stmt.discardableTills.all(numero),
    /** Tills holding a sale of this numero that a retry could mean. */
    retryableTills: (numero: string) => stmt.retryableTills.all(numero),
    makeAllDue: () => stmt.dueNow.run().changes,
    /**
     * 0 when no such sale can be discarded, including one being sent right now (see `inFlight`).
     * `serial`: only that till's sale (null: any till's; the decision checks discardableTills first).
     */
    discard: (numero: string, reason: string, now: Date, serial: string | null = null) =>
      stmt.discard.run(reason, now.toISOString(), numero, serial, serial, new Date(now.getTime() - CLAIM_STALE_MS).toISOString()).changes,
    /** Sent without a clear answer since: the server may have it, so it cannot be discarded yet. */
    verdictUnknown: (numero: string, serial: string | null = null) => stmt.verdictUnknown.get(numero, serial, serial) !== undefined,
    inFlight: (numero: string, now: Date, serial: string | null = null) =>
      stmt.inFlight.get(numero, serial, serial, new Date(now.getTime() - CLAIM_STALE_MS).toISOString()) !== undefined,
    purgeSynced: (before: Date) => stmt.purge.run(before.toISOString()).changes,

    terminal: (serial: string) => stmt.terminal.get(serial),
    terminaux: () => stmt.terminaux.all(),
    /** One known till per boutique: enough to refresh every boutique's catalogue. */
    terminalsPerBoutique: () => stmt.knownTerminals.all(),
    saveTerminal(
      serial: string,
      statut: TerminalStatut,
      info: { boutique_id: number | null; boutique_nom: string | null; terminal_nom: string | null },
      now: Date,
    ) {
      db.transaction(() => {
        const before = stmt.terminal.get(serial);
        stmt.saveTerminal.run(serial, statut, info.boutique_id, info.boutique_nom, info.terminal_nom, now.toISOString());
        // Sales taken before the boutique was known get it now, once: this UPDATE scans the
        // till's sales, so it must not run on every batch of a large backlog.
        if (info.boutique_id !== null && before?.boutique_id == null) {
          stmt.fillBoutique.run(info.boutique_id, serial);
          retours.fillBoutique(info.boutique_id, serial);
          retours.priceFromCatalogue(info.boutique_id);
        }
      })();
    },
    recordTerminalSync: (serial: string, now: Date) => stmt.terminalSynced.run(serial, now.toISOString()),
    recordTerminalError: (serial: string, message: string, now: Date) => stmt.terminalError.run(serial, message, now.toISOString()),

    replaceCatalogue(boutiqueId: number, articles: Article[], now: Date, parsePrice: (text: string) => number | null) {
      db.transaction(() => {
        stmt.clearCatalogue.run(boutiqueId);
        for (const a of articles) {
          stmt.insertArticle.run(boutiqueId, a.id, a.nom, parsePrice(a.prix_vente) ?? 0, a.quantite_stock);
        }
        stmt.catalogueDate.run(boutiqueId, now.toISOString());
        retours.priceFromCatalogue(boutiqueId);
      })();
    },
    catalogue: (boutiqueId: number) => stmt.catalogue.all(boutiqueId),
    catalogueArticle: (boutiqueId: number, articleId: number) => stmt.catalogueArticle.get(boutiqueId, articleId),
    catalogueUpdated: (boutiqueId: number) => stmt.catalogueUpdated.get(boutiqueId) ?? null,
  };
}

export type RelayStore = ReturnType<typeof createRelayStore>;
