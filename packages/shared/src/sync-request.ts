import { type ErrorBody, errorBody, statusOf } from './error-codes.js';
import { MAX_VENTES_PER_REQUEST } from './limits.js';

export type BatchCheck = { ok: true; items: unknown[] } | { ok: false; status: number; body: ErrorBody };

/** Request-level shape check of a parsed sync body; each element is then validated on its own. */
export function checkSyncBatch(body: unknown): BatchCheck {
  if (!Array.isArray(body)) {
    return {
      ok: false,
      status: statusOf('INVALID_FORMAT'),
      body: errorBody('INVALID_FORMAT', 'Format invalide: un tableau de ventes est attendu'),
    };
  }
  if (body.length > MAX_VENTES_PER_REQUEST) {
    return {
      ok: false,
      status: statusOf('BATCH_TOO_LARGE'),
      body: errorBody(
        'BATCH_TOO_LARGE',
        `Trop de ventes dans une requête : ${body.length} reçues, ${MAX_VENTES_PER_REQUEST} au maximum. Envoyez-les par lots.`,
        { limit: MAX_VENTES_PER_REQUEST, received: body.length },
      ),
    };
  }
  return { ok: true, items: body };
}

export function syncMessage(created: number): string {
  return `${created} vente(s) synchronisée(s) avec succès`;
}
