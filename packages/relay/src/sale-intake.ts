import {
  formatMoney,
  generateNumero,
  multiplyMoney,
  rawNumero,
  validateVente,
  type VenteCreee,
  type VenteErreur,
  venteFingerprint,
  venteToWire,
} from '@ventesync/shared';
import type { RelayStore } from './relay-store.js';

export interface IntakeTerminal {
  serial: string;
  boutique_id: number | null;
}

export interface IntakeResult {
  creees: VenteCreee[];
  erreurs: VenteErreur[];
}

/**
 * Takes a till's batch: checks what can be checked without the server (shape, types, values,
 * numeros this relay already holds), gives a numero to a sale that has none *before* storing
 * it, so every later send carries the same one, and stores the accepted sales in one durable
 * transaction. Stock and articles are the server's to judge.
 */
export function createSaleIntake(store: RelayStore) {
  const relayId = store.relayId();

  function price(boutiqueId: number | null, articleId: number, sent: number | null) {
    const cached = boutiqueId === null ? undefined : store.catalogueArticle(boutiqueId, articleId);
    return { nom: cached?.nom ?? `Article ${articleId}`, prix: sent ?? cached?.prix_vente ?? null };
  }

  return {
    take(terminal: IntakeTerminal, items: unknown[], receivedAt: Date): IntakeResult {
      return store.transaction(() => {
        const result: IntakeResult = { creees: [], erreurs: [] };
        const usedInRequest = new Set<string>();
        const receivedIso = receivedAt.toISOString();

        items.forEach((raw, i) => {
          const validation = validateVente(raw);
          if (!validation.ok) {
            const numero = rawNumero(raw);
            if (numero !== null) usedInRequest.add(numero);
            result.erreurs.push({ index: i + 1, numero_facture: numero, erreur: validation.erreur, code: 'INVALID_SALE' });
            return;
          }
          const vente = validation.vente;
          const empreinte = venteFingerprint(vente);
          let numero = vente.numero_facture;
          const generated = numero === null;
          if (numero === null) {
            // The relay's id in the numero: a numero the server generated for a till that
            // posts to it directly can never be mistaken for one of ours.
            const ours = (n: string) => `${n}-R${relayId}`;
            const taken = (n: string) => usedInRequest.has(ours(n)) || store.numeroTaken(ours(n));
            numero = ours(generateNumero(terminal.boutique_id ?? 0, receivedAt, i, taken));
          } else {
            const held = store.heldInScope(numero, terminal.boutique_id, terminal.serial);
            if (held || usedInRequest.has(numero)) {
              result.erreurs.push({
                index: i + 1,
                numero_facture: numero,
                erreur: `Vente ${numero} existe déjà, ignorée`,
                code: 'DUPLICATE',
                vente_existante: held
                  ? { numero_facture: held.numero_facture, montant_total: held.montant_serveur ?? formatMoney(held.montant_total), date_vente: held.recue_le }
                  : null,
                identique: held !== undefined && held.empreinte === empreinte,
              });
              return;
            }
          }
          usedInRequest.add(numero);

          // An estimate for the till's receipt; the server's own amount is kept once it has the sale.
          let montant = 0;
          const lignes = vente.lignes.map((l) => {
            const { nom, prix } = price(terminal.boutique_id, l.article_id, l.prix_unitaire);
            const sousTotal = prix === null ? 0 : (multiplyMoney(prix, l.quantite) ?? 0);
            montant += sousTotal;
            return { article_nom: nom, quantite: l.quantite, prix_unitaire: formatMoney(prix ?? 0), sous_total: formatMoney(sousTotal) };
          });
          if (!Number.isSafeInteger(montant)) {
            result.erreurs.push({ index: i + 1, numero_facture: numero, erreur: 'Montant trop élevé', code: 'INVALID_SALE' });
            return;
          }
          store.insertVente({
            serial: terminal.serial,
            boutique_id: terminal.boutique_id,
            numero_facture: numero,
            numero_genere: generated,
            // Without a date from the till, the sale happened when it reached the relay, not when the
            // server gets it (maybe days later).
            contenu: JSON.stringify(venteToWire({ ...vente, numero_facture: numero, date_vente: vente.date_vente ?? receivedIso })),
            empreinte,
            montant_total: montant,
            recue_le: receivedIso,
          });
          result.creees.push({ numero_facture: numero, montant_total: formatMoney(montant), lignes, statut: 'EN_ATTENTE' });
        });
        return result;
      });
    },
  };
}

export type SaleIntake = ReturnType<typeof createSaleIntake>;
