import type { Centimes } from './money.js';

/** A part of a returned article at one of the sale's prices. */
export interface ReturnedPart {
  quantite: number;
  prix: Centimes;
}

/**
 * Which of the sale's units a return gives back, and so at what price: the units of an article
 * are taken in the order of the sale's lines, after those earlier returns already took. A sale
 * with 2 at 100 then 3 at 80: a first return of 3 is 2 × 100 + 1 × 80, the next 2 are 2 × 80.
 * Exact (integer centimes) and the same whichever till asks. Null when the sale has fewer
 * units left than asked.
 */
export function allocateReturn(sold: ReadonlyArray<{ quantite: number; prix: Centimes }>, alreadyReturned: number, quantite: number): ReturnedPart[] | null {
  const parts: ReturnedPart[] = [];
  let skip = alreadyReturned;
  let left = quantite;
  for (const line of sold) {
    if (left === 0) break;
    const available = line.quantite - Math.min(skip, line.quantite);
    skip -= line.quantite - available;
    if (available === 0) continue;
    const taken = Math.min(available, left);
    const last = parts[parts.length - 1];
    if (last && last.prix === line.prix) last.quantite += taken;
    else parts.push({ quantite: taken, prix: line.prix });
    left -= taken;
  }
  return left === 0 ? parts : null;
}
