import { localDayOf } from '@ventesync/shared';
import type { Db } from './db/open-database.js';
import { CatalogueError } from './catalogue-rules.js';
import { MAX_CHIFFRES_JOUR_CENTIMES } from './sale-rules.js';

/**
 * `chiffres_jour` holds, per boutique, local day and payment mode, the count and amount of the
 * sales: the sale writer adds to it as it writes. When a boutique's zone changes, its days have
 * new boundaries: its rows are made again from its sales, each counted on its local day in the
 * new zone. SQLite knows no zones, so the days are computed here, one pass over the boutique's
 * sales in date order (the local-day cache then reads the zone's offset once per quarter hour).
 * Runs inside the caller's transaction: the zone and its totals change together.
 */
export function rebuildDailyTotals(db: Db, boutiqueId: number, fuseau: string): void {
  if (!db.inTransaction) throw new Error('rebuildDailyTotals en dehors de toute transaction');
  const sales = db.prepare<[number], DatedSale>(
    'SELECT date_vente, mode_paiement, montant_total FROM ventes WHERE boutique_id = ? ORDER BY date_vente',
  );
  const totals = dailyTotalsOf(sales.iterate(boutiqueId), fuseau);
  db.prepare<[number]>('DELETE FROM chiffres_jour WHERE boutique_id = ?').run(boutiqueId);
  const insert = db.prepare<[number, string, string, number, bigint]>(
    'INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total) VALUES (?, ?, ?, ?, ?)',
  );
  for (const t of totals) insert.run(boutiqueId, t.jour, t.mode, t.nombre, t.montant);
}

/** A sale as the rebuild reads it; montant_total as the driver gives it (PostgreSQL: text). */
export interface DatedSale {
  date_vente: string;
  mode_paiement: string;
  montant_total: number | bigint | string;
}

export interface DailyTotal {
  jour: string;
  mode: string;
  nombre: number;
  montant: bigint;
}

/**
 * A boutique's rows of chiffres_jour from its sales (in date order: the local-day cache then
 * reads the zone's offset once per quarter hour), each counted on its local day in `fuseau`.
 * Backend-neutral: SQLite and PostgreSQL rebuild with it. Refuses (CatalogueError) a zone whose
 * day boundaries would put more in one day than the sale writer lets in.
 */
export function dailyTotalsOf(sales: Iterable<DatedSale>, fuseau: string): DailyTotal[] {
  const totals = dailyTotalsAccumulator(fuseau);
  for (const v of sales) totals.add(v);
  return totals.result();
}

/** The same, fed in pieces: PostgreSQL reads a boutique's sales a page at a time. */
export function dailyTotalsAccumulator(fuseau: string): { add(sale: DatedSale): void; result(): DailyTotal[] } {
  const totals = new Map<string, DailyTotal>();
  return {
    add(v) {
      const jour = localDayOf(v.date_vente, fuseau);
      const key = `${jour} ${v.mode_paiement}`;
      const t = totals.get(key);
      // bigint: a day's row can pass 2^53 centimes (README, money rule).
      if (t) {
        t.nombre++;
        t.montant += BigInt(v.montant_total);
      } else {
        totals.set(key, { jour, mode: v.mode_paiement, nombre: 1, montant: BigInt(v.montant_total) });
      }
    },
    result() {
      for (const t of totals.values()) {
        // The new day boundaries can put more in one day than the sale writer let in (see there):
        // the change of zone is refused rather than a total made inexact.
        if (t.montant > MAX_CHIFFRES_JOUR_CENTIMES) {
          throw new CatalogueError('INVALID', `Fuseau ${fuseau} refusé : le total du jour ${t.jour} (${t.mode}) y dépasserait ${MAX_CHIFFRES_JOUR_CENTIMES} centimes`);
        }
      }
      return [...totals.values()];
    },
  };
}
