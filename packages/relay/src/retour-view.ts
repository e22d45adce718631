import { formatMoney } from '@ventesync/shared';
import { describeError } from './describe-error.js';
import { formatWhen, type TimeStyle } from './format-time.js';
import type { RelayStore } from './relay-store.js';
import type { HeldRetour } from './retour-store.js';
import { retryRetour } from './sale-decisions.js';

/**
 * Held returns as people see them (the CLI's pending, rejected, show) and a person's decisions
 * on them (retry, discard), next to the sales' own (sale-decisions.ts, receipt.ts).
 */

/** A held return for scripts (`show --json`): the return as it will be sent, and where it stands. */
export function retourRecord(r: HeldRetour) {
  let retour: unknown = null;
  try {
    retour = JSON.parse(r.contenu);
  } catch {
    // A row the relay wrote is always JSON.
  }
  return {
    numero_retour: r.numero_retour,
    numero_facture: r.numero_facture,
    serial: r.serial,
    statut: r.statut,
    montant_total: r.montant_serveur ?? formatMoney(r.montant_total),
    recu_le: r.recue_le,
    tentatives: r.tentatives,
    code_erreur: r.code_erreur,
    erreur: r.erreur,
    synchronise_le: r.synchronisee_le,
    decision: r.decision,
    retour,
  };
}

/** Why a waiting return waits, in words. */
export function retourSituation(store: RelayStore, r: HeldRetour): string {
  const sale = store.retours.blockingSale(r.id);
  if (sale?.statut === 'EN_ATTENTE') return `attend que la vente ${r.numero_facture} parte au serveur`;
  if (sale?.statut === 'REJETEE') return `attend la vente ${r.numero_facture}, refusée par le serveur : à traiter (retry ou discard)`;
  if (r.en_vol) return 'en cours d’envoi';
  if (r.code_erreur) return `${r.erreur ?? r.code_erreur}`;
  // As for a sale: its till's trouble, said the same way (it waits for the till, not for the next pass).
  const t = store.terminal(r.serial);
  if (t?.statut === 'INCONNU') return 'terminal refusé par le serveur (inconnu ou désactivé)';
  if (t?.derniere_erreur && r.tentatives > 0) return describeError(t.derniere_erreur);
  return r.tentatives === 0 ? 'envoi au prochain passage' : 'nouvel envoi au prochain passage';
}

/** One line per return: numero, sale, amount, state and why. */
export function retourLine(store: RelayStore, r: HeldRetour, style: TimeStyle): string {
  const why = r.statut === 'EN_ATTENTE' ? retourSituation(store, r) : r.statut === 'REJETEE' ? `${r.code_erreur ?? ''} : ${r.erreur ?? ''}` : (r.decision ?? '');
  return `${r.numero_retour} (vente ${r.numero_facture}) ${r.montant_serveur ?? formatMoney(r.montant_total)}, reçu ${formatWhen(r.recue_le, style)}, ${r.statut}${why ? ` — ${why}` : ''}`;
}

/**
 * `retry NUMERO`: numeros that are no sale may be returns; those put back to waiting (`done`),
 * one till's each: a numero several tills hold is left for the person to name the till.
 */
export function retryRetours(
  store: RelayStore,
  numeros: readonly string[],
  serial: string | null = null,
): { done: string[]; ambiguous: Array<{ numero: string; caisses: string[] }> } {
  return store.transaction(() => {
    const done: string[] = [];
    const ambiguous: Array<{ numero: string; caisses: string[] }> = [];
    for (const numero of numeros) {
      const outcome = retryRetour(store, numero, serial);
      if (outcome.ok) done.push(numero);
      else if (outcome.refusal === 'AMBIGU') ambiguous.push({ numero, caisses: outcome.caisses });
    }
    return { done, ambiguous };
  });
}

/** What a person does about a return the server refused, in words (the shop page, by its code). */
export function retourTodo(code: string | null, numeroFacture: string): string {
  switch (code) {
    case 'SALE_NOT_FOUND':
      return `Vérifier que la vente ${numeroFacture} est bien arrivée au serveur (sinon la renvoyer d’abord), puis renvoyer le retour ; si la vente n’existe pas, abandonner le retour`;
    case 'RETURN_EXCEEDS_SALE':
      return `Le retour rend plus d’articles que la vente ${numeroFacture} n’en a vendu : vérifier avec la caisse, puis abandonner ce retour (et le refaire juste en caisse si besoin)`;
    case 'DUPLICATE':
      return 'Un autre retour porte déjà ce numéro sur le serveur : vérifier lequel est le bon, puis abandonner celui-ci';
    case 'INVALID_RETURN':
      return 'Le serveur juge ce retour incorrect : le refaire correctement en caisse, puis abandonner celui-ci';
    default:
      return 'Lire la raison : renvoyer le retour une fois la cause corrigée, ou l’abandonner';
  }
}
