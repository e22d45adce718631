import type { SaleErrorCode } from './error-codes.js';
import { isSameSale, venteFingerprint } from './fingerprint.js';
import { type Centimes, formatMoney } from './money.js';
import { generateNumero, type NumeroGenerator } from './numero.js';
import type { VenteCreee, VenteErreur } from './response-schemas.js';
import { rawNumero, validateVente, type VenteNormalisee } from './vente-schema.js';

/** A sale already held under a numero, in the server's database or the relay's file. */
export interface StoredSale {
  numero_facture: string;
  /** As the wire shows it: "40000.00". */
  montant_total: string;
  /** ISO 8601 UTC: the till's date, or the reception time when it sent none. */
  date_vente: string;
  /** The terminal that sent it. */
  serial: string;
  empreinte: string;
}

/** The two questions the per-sale steps ask of storage; each side answers from its own tables. */
export interface SaleStorage {
  /** The sale held under this numero in the duplicate scope (the boutique), if any. */
  findSale(numero: string): StoredSale | undefined;
  /** Whether a generated numero would collide with one already held. */
  numeroTaken(numero: string): boolean;
}

export interface SaleBatch {
  serial: string;
  /** For generated numeros. */
  boutiqueId: number;
  receivedAt: Date;
  /** Appended to every generated numero: the relay marks its own (`-R{id}`), the server adds nothing. */
  generatedSuffix?: string;
  /**
   * Gives generated numeros; the server passes one that remembers suffixes across requests
   * (`createNumeroGenerator`). Defaults to `generateNumero`, which tries `-1`, `-2`… each time.
   */
  numeros?: NumeroGenerator;
}

/** A sale refused by the storage step (stock, article, amount): its code and French reason. */
export interface SaleRefusal {
  code: SaleErrorCode;
  erreur: string;
}

/**
 * The storage step for a sale that passed validation and the duplicate rule: store it and
 * return its `ventes_creees` entry, or refuse it. Positional arguments: no object per sale.
 */
export type StoreSale = (
  vente: VenteNormalisee,
  numero: string,
  empreinte: string,
  generated: boolean,
  index: number,
) => VenteCreee | SaleRefusal;

export interface SalesOutcome {
  creees: VenteCreee[];
  erreurs: VenteErreur[];
}

function duplicateMessage(numero: string): string {
  return `Vente ${numero} existe déjà, ignorée`;
}

/** A `ventes_creees` line: amounts in centimes in, the wire's strings out. */
export function ligneCreee(articleNom: string, quantite: number, prix: Centimes, sousTotal: Centimes) {
  return { article_nom: articleNom, quantite, prix_unitaire: formatMoney(prix), sous_total: formatMoney(sousTotal) };
}

/**
 * The per-sale steps of CONTRACT §2, the same for the server and the relay: validate, give a
 * numero (the till's, or a generated one that never collides), fingerprint, apply the
 * duplicate rule, then hand the sale to `store`. A numero is a duplicate when it is held
 * already or was used earlier in this request (even by a refused sale). Runs synchronously
 * inside whatever transaction the caller opened.
 */
export function processSales(items: readonly unknown[], batch: SaleBatch, storage: SaleStorage, store: StoreSale): SalesOutcome {
  const outcome: SalesOutcome = { creees: [], erreurs: [] };
  const usedInRequest = new Set<string>();
  const suffix = batch.generatedSuffix ?? '';
  const isTaken = (numero: string) => usedInRequest.has(numero + suffix) || storage.numeroTaken(numero + suffix);
  const generate = batch.numeros ?? generateNumero;

  for (let i = 0; i < items.length; i++) {
    const raw = items[i];
    const validation = validateVente(raw);
    if (!validation.ok) {
      const numero = rawNumero(raw);
      if (numero !== null) usedInRequest.add(numero);
      outcome.erreurs.push({ index: i + 1, numero_facture: numero, erreur: validation.erreur, code: 'INVALID_SALE' });
      continue;
    }
    const vente = validation.vente;
    const empreinte = venteFingerprint(vente);
    const generated = vente.numero_facture === null;
    let numero: string;
    if (vente.numero_facture === null) {
      // Never reported as a duplicate: a generated numero moves on until it is free.
      numero = generate(batch.boutiqueId, batch.receivedAt, i, isTaken) + suffix;
    } else {
      numero = vente.numero_facture;
      const stored = storage.findSale(numero);
      if (stored !== undefined || usedInRequest.has(numero)) {
        outcome.erreurs.push({
          index: i + 1,
          numero_facture: numero,
          erreur: duplicateMessage(numero),
          code: 'DUPLICATE',
          vente_existante: stored
            ? { numero_facture: stored.numero_facture, montant_total: stored.montant_total, date_vente: stored.date_vente }
            : null,
          // "identique" promises this very sale is held: only a stored one can qualify.
          identique: stored !== undefined && isSameSale(stored, batch.serial, vente, empreinte),
        });
        continue;
      }
    }
    usedInRequest.add(numero);

    const result = store(vente, numero, empreinte, generated, i);
    if ('code' in result) {
      outcome.erreurs.push({ index: i + 1, numero_facture: numero, erreur: result.erreur, code: result.code });
    } else {
      outcome.creees.push(result);
    }
  }
  return outcome;
}
