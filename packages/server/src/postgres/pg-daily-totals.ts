import { dailyTotalsAccumulator } from '../daily-totals.js';
import type { PgRunner, PgStatement } from './pg-runner.js';

/** Sales read per round trip while rebuilding: a boutique's years of sales never sit in memory at once. */
export const DAILY_TOTALS_PAGE = 10_000;

const SQL = {
  // Keyset pages in (date_vente, id) order: date order, as SQLite's rebuild reads them.
  salesPage: {
    name: 'vs_jour_ventes',
    text: `SELECT id, date_vente, mode_paiement, montant_total FROM ventes
           WHERE boutique_id = $1 AND (date_vente, id) > ($2::text, $3::bigint)
           ORDER BY date_vente, id LIMIT $4`,
  },
  clear: { name: 'vs_jour_vider', text: 'DELETE FROM chiffres_jour WHERE boutique_id = $1' },
  insert: {
    name: 'vs_jour_inserer',
    text: `INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[])`,
  },
} satisfies Record<string, PgStatement>;

/**
 * A boutique's chiffres_jour made again for the days of `fuseau` (its zone changed): the same
 * computation as SQLite's (daily-totals.ts), run inside the caller's transaction, which holds
 * the boutique's row FOR UPDATE: a sale of that boutique (its insert checks the boutique's key)
 * waits until the zone and its totals are both committed.
 */
export async function rebuildPgDailyTotals(tx: PgRunner, boutiqueId: number, fuseau: string): Promise<void> {
  const totals = dailyTotalsAccumulator(fuseau);
  let after: [string, string] = ['', '0'];
  for (;;) {
    const page = await tx.query<{ id: string; date_vente: string; mode_paiement: string; montant_total: string }>(SQL.salesPage, [
      boutiqueId,
      after[0],
      after[1],
      DAILY_TOTALS_PAGE,
    ]);
    for (const sale of page.rows) totals.add(sale);
    if (page.rows.length < DAILY_TOTALS_PAGE) break;
    const last = page.rows[page.rows.length - 1]!;
    after = [last.date_vente, last.id];
  }
  const rows = totals.result();
  await tx.query(SQL.clear, [boutiqueId]);
  if (rows.length === 0) return;
  await tx.query(SQL.insert, [
    boutiqueId,
    rows.map((t) => t.jour),
    rows.map((t) => t.mode),
    rows.map((t) => String(t.nombre)),
    rows.map((t) => t.montant.toString()),
  ]);
}
