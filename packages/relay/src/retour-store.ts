import type { Db } from './db/open-database.js';
import type { HeldStatut } from './relay-store.js';

/** A return a till handed over, as the relay holds it until the server has it (schema 6). */
export interface HeldRetour {
  id: number;
  serial: string;
  boutique_id: number | null;
  numero_retour: string;
  numero_facture: string;
  /** The return as it will be forwarded: JSON text, date included. */
  contenu: string;
  empreinte: string;
  montant_total: number;
  statut: HeldStatut;
  recue_le: string;
  tentatives: number;
  /** Sends of this return alone that the server failed (400, 500…): REJETEE past the poison limit. */
  echecs_seul: number;
  en_vol: string | null;
  code_erreur: string | null;
  erreur: string | null;
  montant_serveur: string | null;
  synchronisee_le: string | null;
  decision: string | null;
  decision_le: string | null;
}

export interface NewHeldRetour {
  serial: string;
  boutique_id: number | null;
  numero_retour: string;
  numero_facture: string;
  contenu: string;
  empreinte: string;
  montant_total: number;
  recue_le: string;
}

const RETOUR_COLUMNS = `id, serial, boutique_id, numero_retour, numero_facture, contenu, empreinte, montant_total, statut,
  recue_le, tentatives, echecs_seul, en_vol, code_erreur, erreur, montant_serveur, synchronisee_le, decision, decision_le`;

/**
 * Which held sales a return may refer to, as SQL over a sale `v` and the return's till
 * (`serial`, `boutique`: SQL expressions). The server looks the sale up in the return's
 * boutique. The relay knows a till's boutique only once the server has named it: a till whose
 * first request came while the server was away has none yet, nor have the sales it took. A
 * relay serves the tills of its shop (one boutique, or the few of a registered relay), so a
 * sale whose boutique cannot be told apart from the return's (the till's own, the same
 * boutique, or either one unknown) is taken for the one the return means, as a person at the
 * counter would: ordering behind a sale of another boutique only delays the return until the
 * server names the boutiques, whereas sending it before its own sale makes the server refuse
 * it SALE_NOT_FOUND for good. Once the boutiques are known, only the same boutique is in reach.
 */
export function saleInReach(v: string, serial: string, boutique: string): string {
  return `(${v}.serial = ${serial} OR ${boutique} IS NULL OR ${v}.boutique_id IS NULL OR ${v}.boutique_id = ${boutique})`;
}

/**
 * Order after the sale: a return waits while a sale in its reach (see saleInReach) is still
 * waiting on this relay, the server not knowing it yet; also while the server refused the sale
 * and a person has not decided (retry or discard): sent now, the return could only be refused
 * SALE_NOT_FOUND. Two exceptions, or one till's trouble would hold the returns of others:
 * - its sale is on the server already (SYNCHRONISEE, the return's own till or its known
 *   boutique): the numero is unique there, so another till's waiting sale of that numero is
 *   not the one the return means;
 * - the sale is another till's, one the server refused as unknown (TERMINAL_NOT_FOUND): it
 *   leaves only once a person registers that till, and a return of it sent meanwhile is
 *   refused SALE_NOT_FOUND, which a person sees and retries with the sale.
 */
function holdsReturn(v: string): string {
  return `${v}.numero_facture = retours.numero_facture AND ${v}.statut IN ('EN_ATTENTE', 'REJETEE')
    AND ${saleInReach(v, 'retours.serial', 'retours.boutique_id')}
    AND (${v}.serial = retours.serial OR NOT EXISTS (SELECT 1 FROM terminaux t WHERE t.serial = ${v}.serial AND t.statut = 'INCONNU'))
    AND NOT EXISTS (SELECT 1 FROM ventes s WHERE s.numero_facture = retours.numero_facture AND s.statut = 'SYNCHRONISEE'
      AND (s.serial = retours.serial OR s.boutique_id = retours.boutique_id))`;
}
const SALE_STILL_HELD = `EXISTS (SELECT 1 FROM ventes v WHERE ${holdsReturn('v')})`;

/** The code of a send after which the server may have the return (as NO_VERDICT for sales). */
const NO_VERDICT = 'SANS_VERDICT';

/**
 * A send of the return may have reached the server (no clear answer: reset, timeout, an
 * answer that did not read or did not name it) and no answer has told since whether it has it;
 * also a claim with no outcome written since (a relay killed mid-send: see VERDICT_UNKNOWN).
 */
const RETOUR_VERDICT_UNKNOWN = `(EXISTS (
  SELECT 1 FROM retour_tentatives u WHERE u.retour_id = retours.id
    AND (u.resultat = 'SANS_REPONSE' OR (u.resultat = 'ECHEC' AND u.code = '${NO_VERDICT}'))
    AND u.id > COALESCE((SELECT MAX(c.id) FROM retour_tentatives c
      WHERE c.retour_id = retours.id AND c.resultat IN ('SYNCHRONISEE', 'REJETEE', 'ATTENTE_VENTE')), 0))
  OR (retours.en_vol IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM retour_tentatives o WHERE o.retour_id = retours.id AND o.le >= retours.en_vol)))`;

/** One send of a return and what came of it (schema 7). */
export type RetourTentativeResultat = 'SYNCHRONISEE' | 'REJETEE' | 'ATTENTE_VENTE' | 'SANS_REPONSE' | 'ECHEC';
export interface RetourTentative {
  le: string;
  resultat: RetourTentativeResultat;
  code: string | null;
  message: string | null;
}

/** A return a person's decision may act on: one row, or several tills' rows of the same numero. */
export interface RetourCandidate {
  id: number;
  serial: string;
  statut: HeldStatut;
  en_vol: string | null;
}

export interface RetourSummary {
  en_attente: number;
  synchronises: number;
  rejetes: number;
  abandonnes: number;
  /** Waiting for their sale to reach the server first. */
  attendent_la_vente: number;
  /** When the oldest waiting return reached the relay; null when none waits. */
  plus_ancien_en_attente: string | null;
}

/** One till's held returns, for the per-till lines of `status` and the shop page. */
export interface RetourSerialSummary {
  serial: string;
  en_attente: number;
  rejetes: number;
}

/** The relay's held returns: the same life as held sales (EN_ATTENTE → SYNCHRONISEE / REJETEE / ABANDONNEE). */
export function createRetourStore(db: Db) {
  const stmt = {
    insert: db.prepare<[string, number | null, string, string, string, string, number, string], { id: number }>(`
      INSERT INTO retours (serial, boutique_id, numero_retour, numero_facture, contenu, empreinte, montant_total, recue_le)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
    // Duplicate scope as for sales: the boutique when the relay knows it, else the till itself.
    heldInScope: db.prepare<[string, number | null, number | null, string], HeldRetour>(`
      SELECT ${RETOUR_COLUMNS} FROM retours
      WHERE numero_retour = ? AND statut <> 'ABANDONNEE' AND ((? IS NOT NULL AND boutique_id = ?) OR serial = ?)
      LIMIT 1`),
    // Units already given back of a held sale (its till, its boutique) by the returns held here
    // that may refer to it (saleInReach); refused or discarded ones gave nothing back. A return
    // whose own till or known boutique holds another sale of that numero is that sale's, not
    // this one's (counted here, it made a valid return refused with "reste -1").
    returnedOfSale: db.prepare<[string, string, number | null, number], { article_id: number; quantite: number }>(`
      SELECT json_extract(l.value, '$.article_id') AS article_id, SUM(json_extract(l.value, '$.quantite')) AS quantite
      FROM retours, json_each(retours.contenu, '$.lignes') l,
        (SELECT ? AS numero_facture, ? AS serial, ? AS boutique_id, ? AS id) v
      WHERE retours.numero_facture = v.numero_facture AND retours.statut IN ('EN_ATTENTE', 'SYNCHRONISEE')
        AND ${saleInReach('v', 'retours.serial', 'retours.boutique_id')}
        AND (v.serial = retours.serial OR (retours.boutique_id IS NOT NULL AND v.boutique_id = retours.boutique_id)
          OR NOT EXISTS (SELECT 1 FROM ventes s WHERE s.numero_facture = retours.numero_facture AND s.id <> v.id AND s.statut <> 'ABANDONNEE'
            AND (s.serial = retours.serial OR (retours.boutique_id IS NOT NULL AND s.boutique_id = retours.boutique_id))))
        -- Another till's returns that the server refused as unknown give nothing back: they
        -- cannot reach it until a person registers that till, and must not use up the sale.
        AND (retours.serial = v.serial OR NOT EXISTS (SELECT 1 FROM terminaux t WHERE t.serial = retours.serial AND t.statut = 'INCONNU'))
      GROUP BY article_id`),
    // The sale a waiting return waits for, if any: one the server refused first (a person must decide).
    blockingSale: db.prepare<[number], { numero_facture: string; statut: HeldStatut }>(`
      SELECT v.numero_facture, v.statut FROM retours, ventes v
      WHERE retours.id = ? AND ${holdsReturn('v')}
      ORDER BY v.statut = 'REJETEE' DESC LIMIT 1`),
    serialsDue: db
      .prepare<[], string>(`SELECT DISTINCT serial FROM retours WHERE statut = 'EN_ATTENTE' AND NOT ${SALE_STILL_HELD} ORDER BY serial`)
      .pluck(),
    hasDue: db
      .prepare<[string, string], number>(`
        SELECT 1 FROM retours WHERE statut = 'EN_ATTENTE' AND serial = ? AND en_vol IS NULL AND NOT ${SALE_STILL_HELD}
          AND id NOT IN (SELECT value FROM json_each(?)) LIMIT 1`)
      .pluck(),
    anyWaiting: db.prepare<[], number>(`SELECT 1 FROM retours WHERE statut = 'EN_ATTENTE' LIMIT 1`).pluck(),
    claimable: db.prepare<[string, number], HeldRetour>(`
      SELECT ${RETOUR_COLUMNS} FROM retours
      WHERE statut = 'EN_ATTENTE' AND serial = ? AND en_vol IS NULL AND NOT ${SALE_STILL_HELD}
      ORDER BY id LIMIT ?`),
    claimableById: db.prepare<[number], HeldRetour>(`SELECT ${RETOUR_COLUMNS} FROM retours WHERE id = ? AND statut = 'EN_ATTENTE' AND en_vol IS NULL`),
    claim: db.prepare<[string, number]>("UPDATE retours SET en_vol = ? WHERE id = ? AND statut = 'EN_ATTENTE'"),
    release: db.prepare<[number]>('UPDATE retours SET en_vol = NULL WHERE id = ?'),
    releaseAll: db.prepare('UPDATE retours SET en_vol = NULL WHERE en_vol IS NOT NULL'),
    // A send cut short by the relay's end: the server may have the returns.
    noteInterrupted: db.prepare<[string, string]>(`
      INSERT INTO retour_tentatives (retour_id, le, resultat, code, message)
      SELECT id, ?, 'ECHEC', '${NO_VERDICT}', ? FROM retours WHERE en_vol IS NOT NULL AND statut = 'EN_ATTENTE'`),
    insertTentative: db.prepare<[number, string, RetourTentativeResultat, string | null, string | null]>(
      'INSERT INTO retour_tentatives (retour_id, le, resultat, code, message) VALUES (?, ?, ?, ?, ?)',
    ),
    tentatives: db.prepare<[number], RetourTentative>('SELECT le, resultat, code, message FROM retour_tentatives WHERE retour_id = ? ORDER BY id'),
    verdictUnknown: db.prepare<[number], number>(`SELECT 1 FROM retours WHERE id = ? AND ${RETOUR_VERDICT_UNKNOWN}`).pluck(),
    candidates: db.prepare<[string, string | null, string | null], RetourCandidate>(`
      SELECT id, serial, statut, en_vol FROM retours WHERE numero_retour = ? AND (? IS NULL OR serial = ?) ORDER BY id`),
    countAttempt: db.prepare<[number]>('UPDATE retours SET tentatives = tentatives + 1 WHERE id = ?'),
    failedAlone: db.prepare<[number], number>('UPDATE retours SET echecs_seul = echecs_seul + 1 WHERE id = ? RETURNING echecs_seul').pluck(),
    // The server's word wins over a person's discard, as for sales.
    markSynced: db.prepare<[string | null, string, number]>(`
      UPDATE retours SET montant_serveur = ?, synchronisee_le = ?, code_erreur = NULL, erreur = NULL, statut = 'SYNCHRONISEE'
      WHERE id = ? AND statut IN ('EN_ATTENTE', 'ABANDONNEE')`),
    markRejected: db.prepare<[string, string, number]>(`
      UPDATE retours SET statut = 'REJETEE', code_erreur = ?, erreur = ? WHERE id = ? AND statut = 'EN_ATTENTE'`),
    // The server's latest word on a waiting return that is not final (its sale not there yet).
    noteWaiting: db.prepare<[string, string, number]>("UPDATE retours SET code_erreur = ?, erreur = ? WHERE id = ? AND statut = 'EN_ATTENTE'"),
    byNumero: db.prepare<[string], HeldRetour>(`SELECT ${RETOUR_COLUMNS} FROM retours WHERE numero_retour = ? ORDER BY id`),
    ofSale: db.prepare<[string], HeldRetour>(`SELECT ${RETOUR_COLUMNS} FROM retours WHERE numero_facture = ? ORDER BY id`),
    byStatut: db.prepare<[string, string | null, string | null, number, number], HeldRetour>(`
      SELECT ${RETOUR_COLUMNS} FROM retours WHERE statut = ? AND (? IS NULL OR serial = ?) ORDER BY id LIMIT ? OFFSET ?`),
    countStatut: db
      .prepare<[string, string | null, string | null], number>('SELECT COUNT(*) FROM retours WHERE statut = ? AND (? IS NULL OR serial = ?)')
      .pluck(),
    retry: db.prepare<[number]>(`
      UPDATE retours SET statut = 'EN_ATTENTE', echecs_seul = 0, code_erreur = NULL, erreur = NULL, decision = NULL, decision_le = NULL
      WHERE id = ? AND statut IN ('REJETEE', 'ABANDONNEE')`),
    // Returns refused SALE_NOT_FOUND whose sale waits here again (a person retried it): back to
    // waiting, behind their sale (SALE_STILL_HELD). One sale's numero, or every one (NULL).
    retryAfterSale: db
      .prepare<[string | null, string | null], string>(`
        UPDATE retours SET statut = 'EN_ATTENTE', echecs_seul = 0, code_erreur = NULL, erreur = NULL, decision = NULL, decision_le = NULL
        WHERE (? IS NULL OR numero_facture = ?) AND statut = 'REJETEE' AND code_erreur = 'SALE_NOT_FOUND'
          AND EXISTS (SELECT 1 FROM ventes v WHERE v.numero_facture = retours.numero_facture AND v.statut = 'EN_ATTENTE'
            AND ${saleInReach('v', 'retours.serial', 'retours.boutique_id')})
        RETURNING numero_retour`)
      .pluck(),
    // Never one being sent, nor one whose last send had no clear answer (the server may have it).
    discard: db.prepare<[string, string, number, string]>(`
      UPDATE retours SET statut = 'ABANDONNEE', decision = ?, decision_le = ?
      WHERE id = ? AND statut IN ('REJETEE', 'EN_ATTENTE') AND (en_vol IS NULL OR en_vol < ?) AND NOT ${RETOUR_VERDICT_UNKNOWN}`),
    summary: db.prepare<[], RetourSummary>(`
      SELECT COALESCE(SUM(statut = 'EN_ATTENTE'), 0) AS en_attente,
        COALESCE(SUM(statut = 'SYNCHRONISEE'), 0) AS synchronises,
        COALESCE(SUM(statut = 'REJETEE'), 0) AS rejetes,
        COALESCE(SUM(statut = 'ABANDONNEE'), 0) AS abandonnes,
        COALESCE(SUM(statut = 'EN_ATTENTE' AND ${SALE_STILL_HELD}), 0) AS attendent_la_vente,
        MIN(CASE WHEN statut = 'EN_ATTENTE' THEN recue_le END) AS plus_ancien_en_attente
      FROM retours`),
    summaryBySerial: db.prepare<[], RetourSerialSummary>(`
      SELECT serial, SUM(statut = 'EN_ATTENTE') AS en_attente, SUM(statut = 'REJETEE') AS rejetes
      FROM retours WHERE statut IN ('EN_ATTENTE', 'REJETEE') GROUP BY serial ORDER BY serial`),
    fillBoutique: db.prepare<[number, string]>('UPDATE retours SET boutique_id = ? WHERE serial = ? AND boutique_id IS NULL'),
    // Waiting returns of a boutique that the relay could not price when it took them (no sale
    // held with prices, no catalogue yet): the server's amount replaces it once it has them.
    unpriced: db.prepare<[number], { id: number; contenu: string }>(`
      SELECT id, contenu FROM retours
      WHERE boutique_id = ? AND statut IN ('EN_ATTENTE', 'REJETEE') AND montant_total = 0 AND montant_serveur IS NULL`),
    catalogPrice: db.prepare<[number, number], number>('SELECT prix_vente FROM catalogue WHERE boutique_id = ? AND article_id = ?').pluck(),
    setMontant: db.prepare<[number, number]>('UPDATE retours SET montant_total = ? WHERE id = ? AND montant_serveur IS NULL'),
    purgeTentatives: db.prepare<[string]>(`
      DELETE FROM retour_tentatives WHERE retour_id IN (SELECT id FROM retours WHERE statut = 'SYNCHRONISEE' AND synchronisee_le < ?)`),
    purge: db.prepare<[string]>(`DELETE FROM retours WHERE statut = 'SYNCHRONISEE' AND synchronisee_le < ?`),
  };

  function claim(now: Date, batch: HeldRetour[]): HeldRetour[] {
    const at = now.toISOString();
    for (const r of batch) {
      stmt.claim.run(at, r.id);
      r.en_vol = at;
    }
    return batch;
  }

  return {
    insert: (r: NewHeldRetour): number =>
      stmt.insert.get(r.serial, r.boutique_id, r.numero_retour, r.numero_facture, r.contenu, r.empreinte, r.montant_total, r.recue_le)!.id,
    heldInScope: (numero: string, boutiqueId: number | null, serial: string) => stmt.heldInScope.get(numero, boutiqueId, boutiqueId, serial),
    /** Per article, the units of a held sale already given back by the returns held here. */
    returnedOfSale: (sale: { id: number; numero_facture: string; serial: string; boutique_id: number | null }) =>
      new Map(stmt.returnedOfSale.all(sale.numero_facture, sale.serial, sale.boutique_id, sale.id).map((r) => [r.article_id, r.quantite])),
    /** The held sale a waiting return still waits for (not sent yet, or refused and not decided on). */
    blockingSale: (retourId: number) => stmt.blockingSale.get(retourId),
    /** Tills with returns that can go now (their sale is no longer waiting here). */
    serialsDue: () => stmt.serialsDue.all(),
    /** Whether the till has a return it could send now, leaving out `aside` (returns the forwarder set aside). */
    hasDue: (serial: string, aside: readonly number[] = []) => stmt.hasDue.get(serial, JSON.stringify(aside)) !== undefined,
    anyWaiting: () => stmt.anyWaiting.get() !== undefined,
    /** Up to `limit` of the till's due returns, oldest first, marked in flight in one IMMEDIATE transaction. */
    claimBatch: (serial: string, now: Date, limit: number, skip: ReadonlySet<number> = new Set()): HeldRetour[] =>
      db.transaction(() => claim(now, stmt.claimable.all(serial, limit + skip.size).filter((r) => !skip.has(r.id)).slice(0, limit))).immediate(),
    /** One return set aside, sent alone: if it still waits and is not in flight. */
    claimById: (id: number, now: Date): HeldRetour[] => db.transaction(() => claim(now, stmt.claimableById.all(id))).immediate(),
    release: (ids: readonly number[]) => ids.forEach((id) => stmt.release.run(id)),
    /** At start: claims left by a relay that died are void; their send may have reached the server (noted). */
    releaseAll: (now: Date = new Date()) => {
      stmt.noteInterrupted.run(now.toISOString(), "Envoi interrompu (le relais s'est arrêté pendant l'envoi)");
      return stmt.releaseAll.run().changes;
    },
    /**
     * Counts a send of these returns. With `failure`, the send taught nothing of them (network,
     * 5xx, an unreadable answer): kept in their history, `unsure` when the server may have them.
     */
    countAttempt: (ids: readonly number[], failure?: { at: Date; reason: string; unsure?: boolean }) =>
      ids.forEach((id) => {
        stmt.countAttempt.run(id);
        if (failure) stmt.insertTentative.run(id, failure.at.toISOString(), 'ECHEC', failure.unsure ? NO_VERDICT : null, failure.reason);
      }),
    /** One send's outcome for one return, in its history (`show`). */
    recordAttempt: (id: number, at: Date, resultat: RetourTentativeResultat, code: string | null, message: string | null) =>
      void stmt.insertTentative.run(id, at.toISOString(), resultat, code, message),
    tentatives: (id: number) => stmt.tentatives.all(id),
    /** Sent without a clear answer since: the server may have it, so it cannot be discarded yet. */
    verdictUnknown: (id: number) => stmt.verdictUnknown.get(id) !== undefined,
    /** Every held return of this numero (one till's when `serial` is given), oldest first. */
    candidates: (numero: string, serial: string | null = null) => stmt.candidates.all(numero, serial, serial),
    /** One more send of this return alone failed; the count so far. */
    failedAlone: (id: number): number => stmt.failedAlone.get(id) ?? 0,
    markSynced: (id: number, montantServeur: string | null, now: Date) => stmt.markSynced.run(montantServeur, now.toISOString(), id).changes,
    markRejected: (id: number, code: string, erreur: string) => stmt.markRejected.run(code, erreur, id).changes,
    noteWaiting: (id: number, code: string, erreur: string) => void stmt.noteWaiting.run(code, erreur, id),
    byNumero: (numero: string) => stmt.byNumero.all(numero),
    /** The returns held here of one sale, oldest first (for `show`). */
    ofSale: (numeroFacture: string) => stmt.ofSale.all(numeroFacture),
    byStatut: (statut: HeldStatut, serial: string | null = null, limit = 10_000, offset = 0) =>
      stmt.byStatut.all(statut, serial, serial, Math.max(0, limit), offset),
    countStatut: (statut: HeldStatut, serial: string | null = null) => stmt.countStatut.get(statut, serial, serial) ?? 0,
    /** Back to EN_ATTENTE (a refused or discarded return, by id: see sale-decisions' retryRetour). */
    retry: (id: number) => stmt.retry.run(id).changes,
    /**
     * After a person retried a sale (`numero`, or every retried sale: null): its returns the
     * server refused SALE_NOT_FOUND wait again, to go after it. Their numeros.
     */
    retryAfterSale: (numero: string | null): string[] => stmt.retryAfterSale.all(numero, numero),
    /**
     * One return (by id: see sale-decisions' discardRetour); 0 when it cannot be discarded
     * (already synced, being sent since after `stale`, or sent without a clear answer since).
     */
    discard: (id: number, reason: string, now: Date, stale: Date) => stmt.discard.run(reason, now.toISOString(), id, stale.toISOString()).changes,
    summary: () => stmt.summary.get()!,
    /** Per till with returns waiting or refused. */
    summaryBySerial: () => stmt.summaryBySerial.all(),
    /** Returns taken before their till's boutique was known get it, once (see the store's saveTerminal). */
    fillBoutique: (boutiqueId: number, serial: string) => void stmt.fillBoutique.run(boutiqueId, serial),
    purgeSynced: (before: Date) => {
      stmt.purgeTentatives.run(before.toISOString());
      return stmt.purge.run(before.toISOString()).changes;
    },
    /**
     * Prices the boutique's waiting returns taken at 0.00 (the till's first requests came
     * before the catalogue did) at the catalogue's prices, once every article of the return is
     * in it: the page and the lists then show what the shop owes back, not 0.00. Called when
     * the catalogue arrives and when a till's boutique becomes known. Returns priced.
     */
    priceFromCatalogue(boutiqueId: number): number {
      let priced = 0;
      for (const r of stmt.unpriced.all(boutiqueId)) {
        const lignes = (JSON.parse(r.contenu) as { lignes: Array<{ article_id: number; quantite: number }> }).lignes;
        let montant = 0;
        for (const l of lignes) {
          const prix = stmt.catalogPrice.get(boutiqueId, l.article_id);
          montant = prix === undefined ? Number.NaN : montant + prix * l.quantite;
        }
        if (montant > 0 && Number.isSafeInteger(montant)) priced += stmt.setMontant.run(montant, r.id).changes;
      }
      return priced;
    },
  };
}

export type RetourStore = ReturnType<typeof createRetourStore>;
