import type { RelayStore } from './relay-store.js';

/** The forwarder's word (forwarder.ts, BROKEN_SERVER_AFTER_SALES): the server answers but fails every sale. */
export const SERVER_BROKEN_KEY = 'serveur_en_panne';

/**
 * Whether the server takes sales, for the page's light, `/ready`, the metric and `status`:
 * null before it was ever tried; false when it does not answer, or answers but fails every
 * sale (a 500 or a proxy's 502 to each: answering is not taking them).
 */
export function serverReachable(store: Pick<RelayStore, 'getEtat'>): boolean | null {
  const joignable = store.getEtat('serveur_joignable');
  if (joignable === null) return null;
  return joignable === 'oui' && store.getEtat(SERVER_BROKEN_KEY) === null;
}
