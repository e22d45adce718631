import { CLAIM_STALE_MS, type RelayStore } from './relay-store.js';

/**
 * A person's decision on held sales and returns (retry, discard), the same whoever asks: the
 * CLI on the shop PC or the relay's page. The rules are the store's; this adds why a decision
 * could not be applied, and says it in the words both show (the CLI adds the commands to type).
 * A decision acts on one sale or one return: a numero is unique per till or boutique only, so
 * when tills hold one each, the person names the till (`--caisse`, the page sends it).
 */

/** Why a decision was not applied to a sale. */
export type Refusal =
  /** Being sent right now: its answer is awaited, and would be judged against state a decision resets. */
  | 'EN_COURS_D_ENVOI'
  /** Sent without a clear answer since: the server may have it, so it cannot be discarded yet. */
  | 'SANS_VERDICT'
  /** No sale by that numero in a state the decision applies to. */
  | 'INTROUVABLE'
  /** Several tills hold one by that numero that the decision could mean: which till? */
  | 'AMBIGU';

/** A person's reason for a discard is kept with the sale: bounded like everything stored. */
export const MAX_DISCARD_REASON_CHARS = 500;

export interface RetryOutcome {
  /** Sales put back to EN_ATTENTE. */
  count: number;
  /** Numeros refused because a send of them is under way. */
  sending: string[];
  /** Numeros with no rejected, discarded or stock-waiting sale. */
  missing: string[];
  /** Numeros several tills hold a sale of that a retry could mean, with those tills: nothing done for them. */
  ambiguous: Array<{ numero: string; caisses: string[] }>;
  /** Returns of the retried sales that the server had refused SALE_NOT_FOUND: waiting again, after their sale. */
  retours: string[];
}

/**
 * `retry NUMERO…`: each sale back to waiting, unless it is in flight or has nothing to retry.
 * Its returns refused because the server did not have the sale go again with it, after it:
 * the person retried the sale so that the server gets it, and they were refused only for that.
 */
export function retrySales(store: RelayStore, numeros: string[], now: Date = new Date(), serial: string | null = null): RetryOutcome {
  return store.transaction(() => {
    const ambiguous = serial === null ? numeros.flatMap((numero) => ambiguity(numero, store.retryableTills(numero))) : [];
    const clear = numeros.filter((numero) => !ambiguous.some((a) => a.numero === numero));
    const changes = store.retry(clear, now, serial);
    const notChanged = clear.filter((_, i) => changes[i] === 0);
    const sending = notChanged.filter((numero) => store.inFlight(numero, now, serial));
    return {
      count: changes.reduce((a, b) => a + b, 0),
      sending,
      missing: notChanged.filter((numero) => !sending.includes(numero)),
      ambiguous,
      retours: clear.filter((_, i) => changes[i]! > 0).flatMap((numero) => store.retours.retryAfterSale(numero)),
    };
  });
}

/** Several tills for one numero: the decision needs the till. */
function ambiguity(numero: string, caisses: string[]): Array<{ numero: string; caisses: string[] }> {
  return caisses.length > 1 ? [{ numero, caisses }] : [];
}

/** `retry --all`: every refused or stock-waiting sale, and the returns refused for want of one of them. */
export function retryAllSales(store: RelayStore, now: Date = new Date()): { count: number; retours: string[] } {
  return store.transaction(() => {
    const count = store.retryAllRejected(now);
    return { count, retours: count > 0 ? store.retours.retryAfterSale(null) : [] };
  });
}

/** The words for a retry that changed nothing for these numeros (null when none). */
export function retryRefusalWords(
  outcome: Pick<RetryOutcome, 'sending' | 'missing'> & { ambiguous?: RetryOutcome['ambiguous'] },
  command?: (args: string) => string,
): string | null {
  const first = outcome.ambiguous?.[0];
  if (first) return ambiguousWords('vente', first.numero, first.caisses, command ? command(`retry ${first.numero}`) : null);
  if (outcome.sending.length > 0) return `en cours d'envoi au serveur, réessayez dans un instant : ${outcome.sending.join(', ')}`;
  if (outcome.missing.length > 0) return `pas de vente rejetée, abandonnée ou en attente de stock : ${outcome.missing.join(', ')}`;
  return null;
}

export type DiscardOutcome = { ok: true } | { ok: false; refusal: Refusal; caisses?: string[] };

/**
 * `discard NUMERO --reason … [--caisse SERIAL]`: kept with the person's reason; never a sale in
 * flight or without a verdict; one till's sale only (AMBIGU when several could be meant).
 */
export function discardSale(store: RelayStore, numero: string, reason: string, now: Date = new Date(), serial: string | null = null): DiscardOutcome {
  return store.transaction(() => {
    const caisses = store.discardableTills(numero);
    if (serial === null && caisses.length > 1) return { ok: false, refusal: 'AMBIGU', caisses };
    if (store.discard(numero, reason, now, serial) > 0) return { ok: true };
    if (store.inFlight(numero, now, serial)) return { ok: false, refusal: 'EN_COURS_D_ENVOI' };
    if (store.verdictUnknown(numero, serial)) return { ok: false, refusal: 'SANS_VERDICT' };
    return { ok: false, refusal: 'INTROUVABLE' };
  });
}

/**
 * Discards one held return, as discardSale a sale: never one in flight, nor one whose last send
 * had no clear answer (the server may have it), and one till's only.
 */
export function discardRetour(store: RelayStore, numero: string, reason: string, now: Date = new Date(), serial: string | null = null): DiscardOutcome {
  return store.transaction(() => {
    const open = store.retours.candidates(numero, serial).filter((r) => r.statut === 'REJETEE' || r.statut === 'EN_ATTENTE');
    const caisses = [...new Set(open.map((r) => r.serial))].sort();
    if (caisses.length === 0) return { ok: false, refusal: 'INTROUVABLE' };
    if (caisses.length > 1) return { ok: false, refusal: 'AMBIGU', caisses };
    const target = open[open.length - 1]!;
    const stale = new Date(now.getTime() - CLAIM_STALE_MS);
    if (store.retours.discard(target.id, reason, now, stale) > 0) return { ok: true };
    if (target.en_vol !== null && target.en_vol >= stale.toISOString()) return { ok: false, refusal: 'EN_COURS_D_ENVOI' };
    if (store.retours.verdictUnknown(target.id)) return { ok: false, refusal: 'SANS_VERDICT' };
    return { ok: false, refusal: 'INTROUVABLE' };
  });
}

export type RetryRetourOutcome = { ok: true } | { ok: false; refusal: 'INTROUVABLE' } | { ok: false; refusal: 'AMBIGU'; caisses: string[] };

/** Puts one refused or discarded return back to waiting (one till's: AMBIGU when several could be meant). */
export function retryRetour(store: RelayStore, numero: string, serial: string | null = null): RetryRetourOutcome {
  return store.transaction(() => {
    const closed = store.retours.candidates(numero, serial).filter((r) => r.statut === 'REJETEE' || r.statut === 'ABANDONNEE');
    const caisses = [...new Set(closed.map((r) => r.serial))].sort();
    if (caisses.length === 0) return { ok: false, refusal: 'INTROUVABLE' };
    if (caisses.length > 1) return { ok: false, refusal: 'AMBIGU', caisses };
    return store.retours.retry(closed[closed.length - 1]!.id) > 0 ? { ok: true } : { ok: false, refusal: 'INTROUVABLE' };
  });
}

/**
 * The words for a numero several tills hold: which ones, and how to name one. `command`: the
 * CLI command to repeat with `--caisse` (null on the page, which sends the till it shows).
 */
export function ambiguousWords(genre: 'vente' | 'retour', numero: string, caisses: readonly string[], command: string | null): string {
  const what = genre === 'vente' ? `ventes ${numero}` : `retours ${numero}`;
  const how = command ? `ajoutez --caisse SERIAL (ex. ${command} --caisse ${caisses[0]})` : 'précisez la caisse';
  return `plusieurs caisses ont des ${what} (${caisses.join(', ')}) : rien n'a été fait ; ${how}`;
}

/**
 * Why a discard was refused, in words. `commands` are what the CLI suggests typing (`show`,
 * `sync`); the page has no commands to offer and leaves them out.
 */
export function discardRefusalWords(
  refusal: Refusal,
  numero: string,
  commands?: { show: string; sync: string; discard?: string },
  more: { genre?: 'vente' | 'retour'; caisses?: readonly string[] } = {},
): string {
  const retour = more.genre === 'retour';
  const le = retour ? `le retour ${numero}` : `la vente ${numero}`;
  switch (refusal) {
    case 'EN_COURS_D_ENVOI':
      return `${le} est en cours d'envoi au serveur : réessayez dans un instant${commands ? ` (${commands.show})` : ''}`;
    case 'SANS_VERDICT':
      return (
        `${le} a été envoyé${retour ? '' : 'e'} au serveur sans réponse claire : il l'a peut-être reçu${retour ? '' : 'e'}. ` +
        `Attendez le prochain envoi${commands ? `, ou lancez « ${commands.sync} »` : ''}, puis réessayez ${retour ? "s'il" : 'si elle'} est encore en attente`
      );
    case 'AMBIGU':
      return ambiguousWords(more.genre ?? 'vente', numero, more.caisses ?? [], commands?.discard ?? null);
    case 'INTROUVABLE':
      return `pas de ${retour ? 'retour' : 'vente'} ${numero} en attente ou ${retour ? 'rejeté' : 'rejetée'}${commands ? ` (${commands.show})` : ''}`;
  }
}
