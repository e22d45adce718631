import type { SyncResponse } from '@ventesync/shared';

/** What the server's answer means for each sale of the batch that was sent. */
export type SaleOutcome =
  | { kind: 'synced'; montant: string | null }
  | { kind: 'rejected'; code: string; erreur: string }
  | { kind: 'stock'; erreur: string }
  /** Not mentioned in the answer: keep it waiting, send it again. */
  | { kind: 'unknown' };

export type BatchOutcome =
  | { kind: 'answered'; sales: SaleOutcome[] }
  /** Nothing is known of the batch: wait and send it again (network, timeout, 5xx, 429…). */
  | { kind: 'retry'; reason: string; retryAfterMs: number | null }
  | { kind: 'terminal-unknown'; reason: string }
  | { kind: 'too-large'; reason: string };

export type UpstreamAnswer =
  | { kind: 'response'; status: number; body: unknown; retryAfterMs: number | null }
  | { kind: 'network-error'; reason: string };

const PERMANENT_CODES = new Set(['ARTICLE_NOT_FOUND', 'INVALID_SALE']);

function isSyncResponse(body: unknown): body is SyncResponse {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Partial<SyncResponse>;
  return Array.isArray(b.ventes_creees) && (b.ventes_erreurs === null || Array.isArray(b.ventes_erreurs));
}

function errorText(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'error' in body) return String((body as { error: unknown }).error);
  return typeof body === 'string' ? body.slice(0, 200) : '';
}

/**
 * Reads the server's answer to a batch of `numeros` (in the order sent). Only a sale the
 * server has (created, or a DUPLICATE it says is identical) counts as synced; a sale the
 * answer does not mention stays waiting, so nothing is ever marked delivered by guess.
 */
export function classifyAnswer(answer: UpstreamAnswer, numeros: readonly string[]): BatchOutcome {
  if (answer.kind === 'network-error') return { kind: 'retry', reason: answer.reason, retryAfterMs: null };
  const { status, body } = answer;
  const code = typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : undefined;

  if ((status === 200 || status === 201) && isSyncResponse(body)) {
    const sales: SaleOutcome[] = numeros.map(() => ({ kind: 'unknown' }));
    const position = new Map(numeros.map((n, i) => [n, i]));
    for (const created of body.ventes_creees) {
      const i = position.get(created.numero_facture);
      if (i !== undefined) sales[i] = { kind: 'synced', montant: created.montant_total ?? null };
    }
    for (const e of body.ventes_erreurs ?? []) {
      // The index is 1-based; the numero must agree, else the answer is not about our sale.
      const i = e.index - 1;
      if (numeros[i] === undefined || (e.numero_facture !== null && e.numero_facture !== numeros[i])) continue;
      if (e.code === 'DUPLICATE') {
        sales[i] = e.identique
          ? { kind: 'synced', montant: e.vente_existante?.montant_total ?? null }
          : { kind: 'rejected', code: 'DUPLICATE', erreur: `${e.erreur} (numéro réutilisé pour une autre vente)` };
      } else if (e.code === 'INSUFFICIENT_STOCK') {
        sales[i] = { kind: 'stock', erreur: e.erreur };
      } else if (PERMANENT_CODES.has(e.code)) {
        sales[i] = { kind: 'rejected', code: e.code, erreur: e.erreur };
      } else {
        // A code this relay does not know: a person should look rather than loop forever.
        sales[i] = { kind: 'rejected', code: String(e.code), erreur: e.erreur };
      }
    }
    return { kind: 'answered', sales };
  }
  if (status === 404 && code === 'TERMINAL_NOT_FOUND') {
    return { kind: 'terminal-unknown', reason: `Le serveur ne connaît pas ce terminal ou l'a désactivé (${errorText(body)})` };
  }
  if (status === 413) return { kind: 'too-large', reason: errorText(body) || 'Lot trop volumineux' };
  return {
    kind: 'retry',
    reason: `Réponse ${status} du serveur${errorText(body) ? ` : ${errorText(body)}` : ''}`,
    retryAfterMs: answer.retryAfterMs,
  };
}
