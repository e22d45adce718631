// What a till developer writes against the client openapi-typescript generates from
// /openapi.json. Compiled by openapi.test.ts next to a freshly generated `openapi-client.ts`
// (`.mts` keeps it out of the workspace's own type-check, where that file does not exist).
import type { components, paths } from './openapi-client.js';

type Sync = paths['/api/v2/simple/ventes/sync/']['post'];
type Lot = Sync['requestBody']['content']['application/json'];
type Answer = Sync['responses'][201]['content']['application/json'];
type TooLarge = Sync['responses'][413]['content']['application/json'];
type MissingSerial = Sync['responses'][400]['content']['application/json'];
type HistoriqueQuery = paths['/api/v2/simple/ventes/historique/']['get']['parameters']['query'];
type Historique = paths['/api/v2/simple/ventes/historique/']['get']['responses'][200]['content']['application/json'];

// The guide's defaults: a sale needs only its lines, a line only its article.
export const minimal: Lot = [{ lignes: [{ article_id: 6 }] }];

export const complete: Lot = [
  {
    numero_facture: 'VENTE-002',
    mode_paiement: 'MOBILE_MONEY',
    paye: true,
    date_vente: '2025-10-29T02:45:00+01:00',
    lignes: [{ article_id: 7, quantite: 2, prix_unitaire: '25000.00' }, { article_id: 6, prix_unitaire: 40000 }],
  },
];

// @ts-expect-error mode_paiement is one of CASH, MOBILE_MONEY, CARTE
export const badMode: Lot = [{ mode_paiement: 'CHEQUE', lignes: [{ article_id: 6 }] }];

// @ts-expect-error lignes is required
export const noLines: Lot = [{ numero_facture: 'X' }];

/** The numeros a till may mark as synced: created now, or already held by the server. */
export function synced(answer: Answer): string[] {
  const created = answer.ventes_creees.map((vente: components['schemas']['VenteCreee']) => vente.numero_facture);
  const already = (answer.ventes_erreurs ?? [])
    .filter((erreur) => erreur.code === 'DUPLICATE' && erreur.identique === true)
    .map((erreur) => erreur.numero_facture ?? '');
  return [...created, ...already];
}

export function batchSize(refusal: TooLarge): number {
  return refusal.code === 'BATCH_TOO_LARGE' ? (refusal.received ?? refusal.limit) : refusal.limit;
}

export function headerToSend(refusal: MissingSerial): string {
  return refusal.code === 'MISSING_SERIAL' ? (refusal.header_required ?? 'X-Device-Serial') : '';
}

export const page: HistoriqueQuery = { limit: 50, offset: 0, date_debut: '2025-10-28', date_fin: '2025-10-29T23:59:59+01:00' };

export function totals(history: Historique): string[] {
  return history.ventes.map((vente) => `${vente.numero_facture}: ${vente.montant_total} (${vente.mode_paiement})`);
}
