import {
  allocateReturn,
  type Centimes,
  formatMoney,
  ligneCreee,
  mergeLignesRetour,
  rawRetourField,
  type RetourCree,
  type RetourErreur,
  retourFingerprint,
  type RetourNormalise,
  type RetoursOutcome,
  type ReturnErrorCode,
  validateRetour,
} from '@ventesync/shared';
import { latestTrustedDate } from './sale-rules.js';

/**
 * The write path's rules for returns, the same whatever the database (SQLite's
 * retour-writer.ts, PostgreSQL's postgres/pg-retour-writes.ts): the per-return steps
 * (validation, duplicates, the till clock), the pricing from the sale's lines and the
 * messages. Pure and synchronous: each writer answers the questions from its own tables.
 */

/** A return whose till's date was ahead of the server's clock: stored at reception, for the log. */
export interface DateRetourRemplacee {
  numero_retour: string;
  date_retour_caisse: string;
  date_retour: string;
}

export interface WriteRetoursResult extends RetoursOutcome {
  datesRemplacees: DateRetourRemplacee[];
}

/** A return already held under a numero_retour in the boutique. */
export interface StoredRetour {
  numero_retour: string;
  numero_facture: string;
  /** centimes */
  montant_total: number;
  date_retour: string;
  serial: string;
  empreinte: string;
}

/** A line of the sale a return gives back from, in the sale's order. */
export interface SoldLine {
  article_id: number;
  article_nom: string;
  quantite: number;
  /** centimes */
  prix_unitaire: number;
}

export interface PricedRetourLigne {
  article_id: number;
  article_nom: string;
  quantite: number;
  prix: Centimes;
  sousTotal: Centimes;
}

export interface PricedRetour {
  lignes: PricedRetourLigne[];
  montant: Centimes;
}

export interface RetourRefusal {
  code: ReturnErrorCode;
  erreur: string;
}

export const isRetourRefusal = (value: object): value is RetourRefusal => 'code' in value;

export function saleNotFound(numeroFacture: string, boutiqueNom: string): RetourRefusal {
  return { code: 'SALE_NOT_FOUND', erreur: `Vente ${numeroFacture} introuvable dans la boutique ${boutiqueNom}` };
}

/**
 * The return's lines priced from the sale (shared allocateReturn: the units are taken in the
 * order of the sale's lines, after those earlier returns took), or RETURN_EXCEEDS_SALE when
 * the sale has fewer units left than asked, all its returns together. `returned`: the units of
 * each article already given back by the sale's stored returns.
 */
export function priceRetour(retour: RetourNormalise, soldLines: readonly SoldLine[], returned: ReadonlyMap<number, number>): PricedRetour | RetourRefusal {
  const sold = new Map<number, SoldLine[]>();
  for (const l of soldLines) {
    const lines = sold.get(l.article_id);
    if (lines) lines.push(l);
    else sold.set(l.article_id, [l]);
  }
  const lignes: PricedRetourLigne[] = [];
  let montant = 0;
  for (const asked of mergeLignesRetour(retour.lignes)) {
    const lines = sold.get(asked.article_id) ?? [];
    const soldQty = lines.reduce((sum, l) => sum + l.quantite, 0);
    const already = returned.get(asked.article_id) ?? 0;
    const parts = allocateReturn(
      lines.map((l) => ({ quantite: l.quantite, prix: l.prix_unitaire })),
      already,
      asked.quantite,
    );
    if (parts === null) {
      const erreur =
        soldQty === 0
          ? `La vente ${retour.numero_facture} ne contient pas l'article ${asked.article_id}`
          : `Retour de ${asked.quantite} ${lines[0]!.article_nom} refusé : la vente ${retour.numero_facture} en a vendu ${soldQty}, déjà rendu(s) ${already}, reste ${soldQty - already}`;
      return { code: 'RETURN_EXCEEDS_SALE', erreur };
    }
    for (const part of parts) {
      // Bounded by the sale's own sous_totals, which were checked to be safe integers.
      const sousTotal = part.prix * part.quantite;
      montant += sousTotal;
      lignes.push({ article_id: asked.article_id, article_nom: lines[0]!.article_nom, quantite: part.quantite, prix: part.prix, sousTotal });
    }
  }
  return { lignes, montant };
}

/** The `retours_crees` entry of a return written. */
export function retourCree(retour: RetourNormalise, priced: PricedRetour): RetourCree {
  return {
    numero_retour: retour.numero_retour,
    numero_facture: retour.numero_facture,
    montant_total: formatMoney(priced.montant),
    lignes: priced.lignes.map((l) => ligneCreee(l.article_nom, l.quantite, l.prix, l.sousTotal)),
  };
}

/**
 * The storage step for a return that passed validation and the duplicate rule: `dateRetour`
 * is the date to store (the reception time when the till's was ahead, its sale's date when the
 * till's came before it), `dateCaisse` the till's value then (else null).
 */
export type StoreRetour = (
  retour: RetourNormalise,
  empreinte: string,
  dateRetour: string,
  dateCaisse: string | null,
) => RetourCree | RetourRefusal;

/**
 * The per-return steps, the same on every backend: validate, fingerprint, the duplicate rule
 * (held already, or used earlier in this request even by a refused return), the till clock,
 * then `store`. Synchronous, inside whatever transaction the caller holds.
 */
export function processRetours(
  items: readonly unknown[],
  serial: string,
  receivedAt: Date,
  findRetour: (numeroRetour: string) => StoredRetour | undefined,
  /** The stored sale's date_vente, undefined when there is no such sale (store then refuses it). */
  saleDateOf: (numeroFacture: string) => string | undefined,
  store: StoreRetour,
): WriteRetoursResult {
  const receivedIso = receivedAt.toISOString();
  // A till's clock far ahead would put the refund on a day still to come: as for sales.
  const latestTrusted = latestTrustedDate(receivedAt);
  const outcome: WriteRetoursResult = { crees: [], erreurs: [], datesRemplacees: [] };
  const usedInRequest = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const raw = items[i];
    const validation = validateRetour(raw);
    if (!validation.ok) {
      const numero = rawRetourField(raw, 'numero_retour');
      if (numero !== null) usedInRequest.add(numero);
      outcome.erreurs.push({
        index: i + 1,
        numero_retour: numero,
        numero_facture: rawRetourField(raw, 'numero_facture'),
        erreur: validation.erreur,
        code: 'INVALID_RETURN',
      });
      continue;
    }
    const retour = validation.retour;
    const empreinte = retourFingerprint(retour);
    const stored = findRetour(retour.numero_retour);
    if (stored !== undefined || usedInRequest.has(retour.numero_retour)) {
      outcome.erreurs.push({
        index: i + 1,
        numero_retour: retour.numero_retour,
        numero_facture: retour.numero_facture,
        erreur: `Retour ${retour.numero_retour} existe déjà, ignoré`,
        code: 'DUPLICATE',
        retour_existant: stored
          ? {
              numero_retour: stored.numero_retour,
              numero_facture: stored.numero_facture,
              montant_total: formatMoney(stored.montant_total),
              date_retour: stored.date_retour,
            }
          : null,
        // As for sales: only a stored return sent by this very terminal with this content.
        identique: stored !== undefined && stored.serial === serial && stored.empreinte === empreinte,
      });
      continue;
    }
    usedInRequest.add(retour.numero_retour);
    let dateCaisse = retour.date_retour !== null && retour.date_retour > latestTrusted ? retour.date_retour : null;
    let dateRetour = dateCaisse === null ? (retour.date_retour ?? receivedIso) : receivedIso;
    // A refund cannot come before its sale: a till clock behind, or a relay that stamped the
    // return on arrival a moment before its sale, would put it on a day the sale did not
    // exist and change that day's books. It is dated at its sale, the till's value kept.
    const dateVente = saleDateOf(retour.numero_facture);
    if (dateVente !== undefined && dateRetour < dateVente) {
      dateCaisse ??= dateRetour;
      dateRetour = dateVente;
    }
    const result = store(retour, empreinte, dateRetour, dateCaisse);
    if (isRetourRefusal(result)) {
      const erreur: RetourErreur = {
        index: i + 1,
        numero_retour: retour.numero_retour,
        numero_facture: retour.numero_facture,
        erreur: result.erreur,
        code: result.code,
      };
      outcome.erreurs.push(erreur);
      continue;
    }
    outcome.crees.push(result);
    if (dateCaisse !== null) {
      outcome.datesRemplacees.push({ numero_retour: retour.numero_retour, date_retour_caisse: dateCaisse, date_retour: dateRetour });
    }
  }
  return outcome;
}
