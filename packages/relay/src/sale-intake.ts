import {
  formatMoney,
  ligneCreee,
  multiplyMoney,
  processSales,
  type SalesOutcome,
  type SaleStorage,
  type StoredSale,
  type VenteNormalisee,
  venteToWire,
} from '@ventesync/shared';
import { clockCorrection } from './clock.js';
import type { HeldVente, RelayStore } from './relay-store.js';

export interface IntakeTerminal {
  serial: string;
  boutique_id: number | null;
}

export type IntakeResult = SalesOutcome;

/** A held sale as the shared duplicate rule reads it; its date is the one it will be forwarded with. */
function storedSale(held: HeldVente): StoredSale {
  let dateVente = held.recue_le;
  try {
    const sent = (JSON.parse(held.contenu) as { date_vente?: unknown }).date_vente;
    if (typeof sent === 'string') dateVente = sent;
  } catch {
    // A row the relay wrote is always JSON; the reception time is the best answer otherwise.
  }
  return {
    numero_facture: held.numero_facture,
    montant_total: held.montant_serveur ?? formatMoney(held.montant_total),
    date_vente: dateVente,
    serial: held.serial,
    empreinte: held.empreinte,
  };
}

/**
 * Takes a till's batch through the same per-sale steps as the server (shared processSales):
 * checks what can be checked without the server (shape, types, values, numeros this relay
 * already holds), gives a numero to a sale that has none *before* storing it, so every later
 * send carries the same one, and stores the accepted sales in one durable transaction. Stock
 * and articles are the server's to judge.
 */
export function createSaleIntake(store: RelayStore) {
  // The relay's id in a generated numero: a numero the server generated for a till that posts
  // to it directly can never be mistaken for one of ours.
  const generatedSuffix = `-R${store.relayId()}`;

  function price(boutiqueId: number | null, articleId: number, sent: number | null) {
    const cached = boutiqueId === null ? undefined : store.catalogueArticle(boutiqueId, articleId);
    return { nom: cached?.nom ?? `Article ${articleId}`, prix: sent ?? cached?.prix_vente ?? null };
  }

  return {
    take(terminal: IntakeTerminal, items: unknown[], receivedAt: Date): IntakeResult {
      const receivedIso = receivedAt.toISOString();
      // The date stamped on a sale without one is on the server's clock, as measured (clock.ts),
      // and never moved by more than that module allows, whatever the file says.
      const stampedIso = new Date(receivedAt.getTime() + clockCorrection(store.clockOffsetMs())).toISOString();
      // Duplicate scope: the boutique when the relay knows it, else the till itself.
      const storage: SaleStorage = {
        findSale(numero) {
          const held = store.heldInScope(numero, terminal.boutique_id, terminal.serial);
          return held && storedSale(held);
        },
        numeroTaken: (numero) => store.numeroTaken(numero),
      };
      const batch = { serial: terminal.serial, boutiqueId: terminal.boutique_id ?? 0, receivedAt, generatedSuffix };

      const hold = (vente: VenteNormalisee, numero: string, empreinte: string, generated: boolean) => {
        // An estimate for the till's receipt; the server's own amount is kept once it has the sale.
        // The server's rule (sale-writer's price): a line's amount, and the sum up to each line,
        // must stay exact (2^53 centimes), else INVALID_SALE naming the line. A line the relay
        // cannot price yet (no price sent, no catalogue) counts 0 here: the server judges it.
        let montant = 0;
        const lignes: Array<ReturnType<typeof ligneCreee>> = [];
        for (const [i, l] of vente.lignes.entries()) {
          const { nom, prix } = price(terminal.boutique_id, l.article_id, l.prix_unitaire);
          const sousTotal = prix === null ? 0 : multiplyMoney(prix, l.quantite);
          montant += sousTotal ?? Number.POSITIVE_INFINITY;
          if (sousTotal === null || !Number.isSafeInteger(montant)) {
            return { code: 'INVALID_SALE' as const, erreur: `Ligne ${i + 1} : montant trop élevé` };
          }
          lignes.push(ligneCreee(nom, l.quantite, prix ?? 0, sousTotal));
        }
        store.insertVente({
          serial: terminal.serial,
          boutique_id: terminal.boutique_id,
          numero_facture: numero,
          numero_genere: generated,
          // Without a date from the till, the sale happened when it reached the relay, not when the
          // server gets it (maybe days later). The fingerprint keeps the till's own (none): a resend
          // from the till is recognised as the same sale.
          contenu: JSON.stringify(venteToWire({ ...vente, numero_facture: numero, date_vente: vente.date_vente ?? stampedIso })),
          empreinte,
          montant_total: montant,
          recue_le: receivedIso,
        });
        return { numero_facture: numero, montant_total: formatMoney(montant), lignes, statut: 'EN_ATTENTE' as const };
      };

      return store.transaction(() => processSales(items, batch, storage, hold));
    },
  };
}

export type SaleIntake = ReturnType<typeof createSaleIntake>;
