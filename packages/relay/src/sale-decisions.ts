import type { RelayStore } from './relay-store.js';

/**
 * A person's decision on held sales (retry, discard), the same whoever asks: the CLI on the
 * shop PC or the relay's page. The rules are the store's; this adds why a decision could not
 * be applied, and says it in the words both show (the CLI adds the commands to type).
 */

/** Why a decision was not applied to a sale. */
export type Refusal =
  /** Being sent right now: its answer is awaited, and would be judged against state a decision resets. */
  | 'EN_COURS_D_ENVOI'
  /** Sent without a clear answer since: the server may have it, so it cannot be discarded yet. */
  | 'SANS_VERDICT'
  /** No sale by that numero in a state the decision applies to. */
  | 'INTROUVABLE';

/** A person's reason for a discard is kept with the sale: bounded like everything stored. */
export const MAX_DISCARD_REASON_CHARS = 500;

export interface RetryOutcome {
  /** Sales put back to EN_ATTENTE. */
  count: number;
  /** Numeros refused because a send of them is under way. */
  sending: string[];
  /** Numeros with no rejected, discarded or stock-waiting sale. */
  missing: string[];
  /** Returns of the retried sales that the server had refused SALE_NOT_FOUND: waiting again, after their sale. */
  retours: string[];
}

/**
 * `retry NUMERO…`: each sale back to waiting, unless it is in flight or has nothing to retry.
 * Its returns refused because the server did not have the sale go again with it, after it:
 * the person retried the sale so that the server gets it, and they were refused only for that.
 */
export function retrySales(store: RelayStore, numeros: string[], now: Date = new Date()): RetryOutcome {
  return store.transaction(() => {
    const changes = store.retry(numeros, now);
    const notChanged = numeros.filter((_, i) => changes[i] === 0);
    const sending = notChanged.filter((numero) => store.inFlight(numero, now));
    return {
      count: changes.reduce((a, b) => a + b, 0),
      sending,
      missing: notChanged.filter((numero) => !sending.includes(numero)),
      retours: numeros.filter((_, i) => changes[i]! > 0).flatMap((numero) => store.retours.retryAfterSale(numero)),
    };
  });
}

/** `retry --all`: every refused or stock-waiting sale, and the returns refused for want of one of them. */
export function retryAllSales(store: RelayStore, now: Date = new Date()): { count: number; retours: string[] } {
  return store.transaction(() => {
    const count = store.retryAllRejected(now);
    return { count, retours: count > 0 ? store.retours.retryAfterSale(null) : [] };
  });
}

/** The words for a retry that changed nothing for these numeros (null when none). */
export function retryRefusalWords(outcome: Pick<RetryOutcome, 'sending' | 'missing'>): string | null {
  if (outcome.sending.length > 0) return `en cours d'envoi au serveur, réessayez dans un instant : ${outcome.sending.join(', ')}`;
  if (outcome.missing.length > 0) return `pas de vente rejetée, abandonnée ou en attente de stock : ${outcome.missing.join(', ')}`;
  return null;
}

export type DiscardOutcome = { ok: true } | { ok: false; refusal: Refusal };

/** `discard NUMERO --reason …`: kept with the person's reason; never a sale in flight or without a verdict. */
export function discardSale(store: RelayStore, numero: string, reason: string, now: Date = new Date()): DiscardOutcome {
  if (store.discard(numero, reason, now) > 0) return { ok: true };
  if (store.inFlight(numero, now)) return { ok: false, refusal: 'EN_COURS_D_ENVOI' };
  if (store.verdictUnknown(numero)) return { ok: false, refusal: 'SANS_VERDICT' };
  return { ok: false, refusal: 'INTROUVABLE' };
}

/**
 * Why a discard was refused, in words. `commands` are what the CLI suggests typing (`show`,
 * `sync`); the page has no commands to offer and leaves them out.
 */
export function discardRefusalWords(refusal: Refusal, numero: string, commands?: { show: string; sync: string }): string {
  switch (refusal) {
    case 'EN_COURS_D_ENVOI':
      return `la vente ${numero} est en cours d'envoi au serveur : réessayez dans un instant${commands ? ` (${commands.show})` : ''}`;
    case 'SANS_VERDICT':
      return (
        `la vente ${numero} a été envoyée au serveur sans réponse claire : il l'a peut-être reçue. ` +
        `Attendez le prochain envoi${commands ? `, ou lancez « ${commands.sync} »` : ''}, puis réessayez si elle est encore en attente`
      );
    case 'INTROUVABLE':
      return `pas de vente ${numero} en attente ou rejetée${commands ? ` (${commands.show})` : ''}`;
  }
}
