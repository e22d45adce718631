import {
  allocateReturn,
  formatMoney,
  ligneCreee,
  mergeLignesRetour,
  parseMoney,
  rawRetourField,
  type RetourCree,
  type RetourErreur,
  retourFingerprint,
  validateRetour,
} from '@ventesync/shared';
import { clockCorrection } from './clock.js';
import type { IntakeTerminal } from './sale-intake.js';
import type { HeldVente, RelayStore } from './relay-store.js';

/** A return taken by the relay: answered as the server would, with `statut: EN_ATTENTE`. */
export type RetourPris = RetourCree & { statut: 'EN_ATTENTE' };

export interface RetourIntakeResult {
  crees: RetourPris[];
  erreurs: RetourErreur[];
}

interface SoldLine {
  article_id: number;
  quantite: number;
  /** As on the wire ("5000.00"); absent when the till let the server price it. */
  prix_unitaire?: string;
}

/** The lines of a held sale as it will be forwarded (the relay wrote them: JSON, checked at intake). */
function soldLines(held: HeldVente): SoldLine[] {
  try {
    const lignes = (JSON.parse(held.contenu) as { lignes?: unknown }).lignes;
    return Array.isArray(lignes) ? (lignes as SoldLine[]) : [];
  } catch {
    return [];
  }
}

/**
 * Takes a till's batch of returns as the server would (shared validator, duplicate rule and
 * fingerprint, the server's answer shape), stores the accepted ones in one IMMEDIATE
 * transaction, and answers them EN_ATTENTE: the forwarder sends each after its sale.
 * When the relay holds the sale, it also refuses a return that would give back more units
 * than the sale sold, all returns held here together (two racing batches are written one
 * after the other under the write lock), and prices it at the sale's prices; otherwise the
 * server judges, and the amount is the catalogue's estimate.
 */
export function createRetourIntake(store: RelayStore) {
  function catalogue(boutiqueId: number | null, articleId: number) {
    return boutiqueId === null ? undefined : store.catalogueArticle(boutiqueId, articleId);
  }

  return {
    take(terminal: IntakeTerminal, items: unknown[], receivedAt: Date): RetourIntakeResult {
      const receivedIso = receivedAt.toISOString();
      const stampedIso = new Date(receivedAt.getTime() + clockCorrection(store.clockOffsetMs())).toISOString();
      const { boutique_id: boutiqueId, serial } = terminal;

      return store.transaction(() => {
        const result: RetourIntakeResult = { crees: [], erreurs: [] };
        const usedInRequest = new Set<string>();
        items.forEach((raw, i) => {
          const index = i + 1;
          const validation = validateRetour(raw);
          if (!validation.ok) {
            const numero = rawRetourField(raw, 'numero_retour');
            if (numero !== null) usedInRequest.add(numero);
            result.erreurs.push({
              index,
              numero_retour: numero,
              numero_facture: rawRetourField(raw, 'numero_facture'),
              erreur: validation.erreur,
              code: 'INVALID_RETURN',
            });
            return;
          }
          const retour = validation.retour;
          const empreinte = retourFingerprint(retour);
          const held = store.retours.heldInScope(retour.numero_retour, boutiqueId, serial);
          if (held !== undefined || usedInRequest.has(retour.numero_retour)) {
            result.erreurs.push({
              index,
              numero_retour: retour.numero_retour,
              numero_facture: retour.numero_facture,
              erreur: `Retour ${retour.numero_retour} existe déjà, ignoré`,
              code: 'DUPLICATE',
              retour_existant: held
                ? {
                    numero_retour: held.numero_retour,
                    numero_facture: held.numero_facture,
                    montant_total: held.montant_serveur ?? formatMoney(held.montant_total),
                    date_retour: (JSON.parse(held.contenu) as { date_retour: string }).date_retour,
                  }
                : null,
              identique: held !== undefined && held.serial === serial && held.empreinte === empreinte,
            });
            return;
          }
          usedInRequest.add(retour.numero_retour);

          const sale = store.saleOfRetour(retour.numero_facture, boutiqueId, serial);
          const returned = sale ? store.retours.returnedOfSale(sale) : new Map<number, number>();
          // Checked against the held sale; null: the sale is not here, the server checks it.
          const check = (sold: SoldLine[] | null) => {
            const lignes: ReturnType<typeof ligneCreee>[] = [];
            let montant = 0;
            let refusal: string | null = null;
            for (const asked of mergeLignesRetour(retour.lignes)) {
              const cached = catalogue(boutiqueId ?? sale?.boutique_id ?? null, asked.article_id);
              const nom = cached?.nom ?? `Article ${asked.article_id}`;
              if (sold === null) {
                // The sale is not here: the server checks it; the amount is an estimate for the receipt.
                const prix = cached?.prix_vente ?? 0;
                montant += prix * asked.quantite;
                lignes.push(ligneCreee(nom, asked.quantite, prix, prix * asked.quantite));
                continue;
              }
              const lines = sold
                .filter((l) => l.article_id === asked.article_id)
                .map((l) => ({ quantite: l.quantite, prix: parseMoney(l.prix_unitaire) ?? cached?.prix_vente ?? 0 }));
              const soldQty = lines.reduce((sum, l) => sum + l.quantite, 0);
              const already = returned.get(asked.article_id) ?? 0;
              const parts = allocateReturn(lines, already, asked.quantite);
              if (parts === null) {
                refusal =
                  soldQty === 0
                    ? `La vente ${retour.numero_facture} ne contient pas l'article ${asked.article_id}`
                    : `Retour de ${asked.quantite} ${nom} refusé : la vente ${retour.numero_facture} en a vendu ${soldQty}, déjà rendu(s) ${already}, reste ${Math.max(0, soldQty - already)}`;
                break;
              }
              for (const part of parts) {
                montant += part.prix * part.quantite;
                lignes.push(ligneCreee(nom, part.quantite, part.prix, part.prix * part.quantite));
              }
            }
            return { lignes, montant, refusal };
          };
          let { lignes, montant, refusal } = check(sale ? soldLines(sale) : null);
          // Another till's sale of a known boutique, in reach only because the return's till's
          // boutique is not known yet: the server looks in the till's own boutique, which may
          // hold another sale of that numero, so this one never refuses the return; the server
          // judges it once it is sent. (Both boutiques unknown, tills new while the server was
          // away: the shop's sale, checked as before.)
          const otherBoutique = sale !== undefined && sale.serial !== serial && boutiqueId === null && sale.boutique_id !== null;
          if (refusal !== null && otherBoutique) ({ lignes, montant, refusal } = check(null));
          if (refusal !== null) {
            result.erreurs.push({ index, numero_retour: retour.numero_retour, numero_facture: retour.numero_facture, erreur: refusal, code: 'RETURN_EXCEEDS_SALE' });
            return;
          }
          if (!Number.isSafeInteger(montant)) {
            result.erreurs.push({ index, numero_retour: retour.numero_retour, numero_facture: retour.numero_facture, erreur: 'Montant trop élevé', code: 'INVALID_RETURN' });
            return;
          }
          store.retours.insert({
            serial,
            boutique_id: boutiqueId,
            numero_retour: retour.numero_retour,
            numero_facture: retour.numero_facture,
            // Without a date from the till, the return happened when it reached the relay; the
            // fingerprint keeps the till's own (none), so a resend from the till is the same return.
            contenu: JSON.stringify({ ...retour, date_retour: retour.date_retour ?? stampedIso }),
            empreinte,
            montant_total: montant,
            recue_le: receivedIso,
          });
          result.crees.push({
            numero_retour: retour.numero_retour,
            numero_facture: retour.numero_facture,
            montant_total: formatMoney(montant),
            lignes,
            statut: 'EN_ATTENTE',
          });
        });
        return result;
      });
    },
  };
}

export type RetourIntake = ReturnType<typeof createRetourIntake>;
