import type { SyncResponse } from './response-schemas.js';
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
      ventes_creees: outcome.creees,
      ventes_erreurs: outcome.erreurs.length > 0 ? outcome.erreurs : null,
    },
  };
}
