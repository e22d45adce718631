import { createHash } from 'node:crypto';
import type { VenteNormalisee } from './vente-schema.js';

/**
 * The normalised content of a sale (lines, quantities, prices as sent, mode, paye), hashed.
 * Lines are sorted so that a resend in another order is still "the same sale"; a price the
 * till left out stays "absent" rather than the article's current price, so a resend after a
 * price change is still recognised as identical.
 */
export function venteFingerprint(vente: VenteNormalisee): string {
  const lignes = vente.lignes
    .map((l) => [l.article_id, l.quantite, l.prix_unitaire] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] ?? -1) - (b[2] ?? -1));
  const canonical = JSON.stringify([vente.mode_paiement, vente.paye, lignes]);
  return createHash('sha256').update(canonical).digest('base64url');
}
