/**
 * The guide's generated invoice number: `VENTE-{boutique_id}-{YYYYMMDDHHMMSS UTC}-{index}`.
 * `isTaken` lets the caller avoid collisions (stored numeros, numeros earlier in the request,
 * another request in the same second): a taken numero gets a `-1`, `-2`… suffix.
 */
export function formatNumeroTimestamp(date: Date): string {
  const iso = date.toISOString(); // 2025-10-29T02:45:00.000Z
  return iso.slice(0, 19).replace(/[-:T]/g, '');
}

function baseNumero(boutiqueId: number, stamp: string, index: number): string {
  return `VENTE-${boutiqueId}-${stamp}-${index}`;
}

export type NumeroGenerator = (
  boutiqueId: number,
  receivedAt: Date,
  index: number,
  isTaken?: (numero: string) => boolean,
) => string;

/** Tries the base numero, then `-1`, `-2`… until one is free. */
export const generateNumero: NumeroGenerator = (boutiqueId, receivedAt, index, isTaken = () => false) => {
  const base = baseNumero(boutiqueId, formatNumeroTimestamp(receivedAt), index);
  let numero = base;
  for (let suffix = 1; isTaken(numero); suffix++) numero = `${base}-${suffix}`;
  return numero;
};

/**
 * Base numeros of the current second whose next suffix is remembered. Tills that send one
 * sale each all generate index 0, so a busy second holds one base per boutique (and per
 * index of larger batches); past the bound the oldest entry is forgotten, which only costs
 * lookups.
 */
export const MAX_REMEMBERED_NUMEROS = 4096;

/**
 * `generateNumero` that remembers, per base numero, the suffix after the last one it gave:
 * the k-th sale generated in a second starts there instead of trying `-1`…`-k` with one
 * lookup each. `isTaken` is still asked for every candidate — after a restart, or when
 * another process wrote, the memory is behind and the lookup moves it on — so the numero is
 * as free as `generateNumero`'s, and the common case costs one lookup. A suffix given to a
 * sale that was then rolled back is skipped, never reused: numeros stay unique, not dense.
 * Entries go when the clock reaches the next second: no numero of an earlier one is
 * generated again.
 */
export function createNumeroGenerator(maxRemembered: number = MAX_REMEMBERED_NUMEROS): NumeroGenerator {
  const nextSuffix = new Map<string, number>();
  let latestStamp = '';
  return (boutiqueId, receivedAt, index, isTaken = () => false) => {
    const stamp = formatNumeroTimestamp(receivedAt);
    if (stamp > latestStamp) {
      nextSuffix.clear();
      latestStamp = stamp;
    }
    const base = baseNumero(boutiqueId, stamp, index);
    const remembered = nextSuffix.get(base);
    let suffix = remembered ?? 0;
    let numero = suffix === 0 ? base : `${base}-${suffix}`;
    while (isTaken(numero)) {
      suffix++;
      numero = `${base}-${suffix}`;
    }
    if (remembered === undefined && nextSuffix.size >= maxRemembered) {
      nextSuffix.delete(nextSuffix.keys().next().value!);
    }
    nextSuffix.set(base, suffix + 1);
    return numero;
  };
}
