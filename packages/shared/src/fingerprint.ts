import { hash } from 'node:crypto';
import type { VenteNormalisee } from './vente-schema.js';

/**
 * Fingerprints written since `date_vente` joined the content start with this. Older ones (a
 * bare base64url SHA-256, no `:` in it) hold mode, paye and lines only: see isSameSale.
 */
const FINGERPRINT_PREFIX = 'v2:';

function lignesKey(vente: VenteNormalisee) {
  return vente.lignes
    .map((l) => [l.article_id, l.quantite, l.prix_unitaire] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] ?? -1) - (b[2] ?? -1));
}

// The one-shot form: a third of createHash's cost, paid for every sale written.
function sha256(text: string): string {
  return hash('sha256', text, 'base64url');
}

/**
 * The normalised content of a sale (lines, quantities, prices as sent, mode, paye, and the
 * till's `date_vente`, null when it sent none), hashed. Lines are sorted so that a resend in
 * another order is still "the same sale"; a price the till left out stays "absent" rather than
 * the article's current price, so a resend after a price change is still recognised.
 */
export function venteFingerprint(vente: VenteNormalisee): string {
  return FINGERPRINT_PREFIX + sha256(JSON.stringify([vente.mode_paiement, vente.paye, vente.date_vente, lignesKey(vente)]));
}

/** The fingerprint the first version wrote: content without the date. */
export function legacyVenteFingerprint(vente: VenteNormalisee): string {
  return sha256(JSON.stringify([vente.mode_paiement, vente.paye, lignesKey(vente)]));
}

/** What the duplicate rule needs of a sale already held under the same numero. */
export interface SameSaleStored {
  /** The terminal that sent it. */
  serial: string;
  empreinte: string;
  /** Its date as stored, ISO 8601 UTC: the till's, or the reception time when the till sent none. */
  date_vente: string;
}

/**
 * CONTRACT §2 `identique`: the stored sale is this very sale — same terminal, same content and,
 * when the till sent one, same `date_vente`. Two tills numbering their receipts alike send two
 * real sales, never one resent.
 *
 * Sales stored by the first version carry a fingerprint without the date; no migration can
 * recompute it (SQLite has no SHA-256, and whether the till sent a date was not kept). For
 * them the content is compared with the old fingerprint and the date with the stored column:
 * a sent date must equal it, which is exactly what the stored date is when the till sent one.
 */
export function isSameSale(stored: SameSaleStored, serial: string, vente: VenteNormalisee, empreinte: string): boolean {
  if (stored.serial !== serial) return false;
  if (stored.empreinte.startsWith(FINGERPRINT_PREFIX)) return stored.empreinte === empreinte;
  return (
    stored.empreinte === legacyVenteFingerprint(vente) && (vente.date_vente === null || vente.date_vente === stored.date_vente)
  );
}
