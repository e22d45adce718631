import { MAX_SYNC_ANSWER_BYTES } from './limits.js';
import type { SyncResponse, VenteCreee, VenteErreur } from './response-schemas.js';
import type { SalesOutcome } from './sale-pipeline.js';
import { syncMessage } from './sync-request.js';

/** 201 when at least one sale was created (held, on the relay); 200 with success false otherwise. */
const SYNC_CREATED_STATUS = 201;
const SYNC_NOTHING_CREATED_STATUS = 200;

export interface SyncAnswer {
  status: typeof SYNC_CREATED_STATUS | typeof SYNC_NOTHING_CREATED_STATUS;
  body: SyncResponse;
}

/** Who answers: the terminal's boutique and name, as the guide's envelope shows them. */
export interface SyncAnswerer {
  boutique_id: number;
  boutique_nom: string;
  terminal: string;
}

// Upper bounds of an entry's JSON size, never under it: a UTF-16 unit is at most 6 bytes once
// in JSON (a control character is written \u0001), plus the keys and punctuation around.
const text = (value: string | null) => (value === null ? 4 : 6 * value.length + 2);
const erreurBytes = (e: VenteErreur) =>
  120 + text(e.numero_facture) + text(e.erreur) + (e.vente_existante ? 100 + text(e.vente_existante.numero_facture) : 0);
const venteBytes = (v: VenteCreee) => 100 + text(v.numero_facture);
const ligneBytes = (nom: string) => 110 + text(nom);

/**
 * Keeps the answer under MAX_SYNC_ANSWER_BYTES: a created sale echoes its lines (about 100
 * bytes each, for a 17-byte line in the request), so a 5 MiB batch of one-article lines would
 * come back as 27 MB. Sales are detailed in order while the budget lasts; the rest come with
 * `lignes: []` and `lignes_omises`. Their numero and amount, what a till reads, always come.
 */
function fitToAnswerBudget(outcome: SalesOutcome): VenteCreee[] {
  let budget = MAX_SYNC_ANSWER_BYTES;
  for (const e of outcome.erreurs) budget -= erreurBytes(e);
  for (const v of outcome.creees) budget -= venteBytes(v);
  let creees = outcome.creees;
  for (let i = 0; i < creees.length; i++) {
    const vente = creees[i]!;
    let cost = 0;
    for (const l of vente.lignes) cost += ligneBytes(l.article_nom);
    if (cost <= budget) {
      budget -= cost;
      continue;
    }
    if (creees === outcome.creees) creees = creees.slice();
    creees[i] = { ...vente, lignes: [], lignes_omises: vente.lignes.length };
  }
  return creees;
}

/** The guide's envelope around a batch's outcome (CONTRACT §2), for the server and the relay. */
export function buildSyncAnswer(who: SyncAnswerer, totalEnvoyees: number, outcome: SalesOutcome): SyncAnswer {
  const reussies = outcome.creees.length;
  return {
    status: reussies > 0 ? SYNC_CREATED_STATUS : SYNC_NOTHING_CREATED_STATUS,
    body: {
      success: reussies > 0,
      message: syncMessage(reussies),
      boutique_id: who.boutique_id,
      boutique_nom: who.boutique_nom,
      terminal: who.terminal,
      statistiques: { total_envoyees: totalEnvoyees, reussies, erreurs: outcome.erreurs.length },
      ventes_creees: fitToAnswerBudget(outcome),
      ventes_erreurs: outcome.erreurs.length > 0 ? outcome.erreurs : null,
    },
  };
}
