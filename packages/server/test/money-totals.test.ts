import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CatalogueError, createCatalogueStore } from '../src/catalogue-store.js';
import { createRapportReader, type Rapport } from '../src/rapport.js';
import { MAX_CHIFFRES_JOUR_CENTIMES } from '../src/sale-writer.js';
import { testApp, vente } from './helpers.js';

// README, money rule: one sale is capped at 2^53 centimes, sums of them are not; every total of
// the books must stay exact to the centime, in every place that shows one.
const NOW = new Date('2025-10-29T10:00:00.000Z');
const JOUR = '2025-10-29';

let t: Awaited<ReturnType<typeof testApp>>;

beforeEach(async () => {
  t = await testApp({ now: () => NOW });
  t.db.prepare('UPDATE articles SET quantite_stock = 1000000000').run();
});
afterEach(async () => {
  await t.close();
});

const sale = (numero: string, prix: string, quantite = 1, mode = 'CASH') =>
  vente(numero, [{ article_id: 9, quantite, prix_unitaire: prix }], { date_vente: '2025-10-29T09:00:00Z', mode_paiement: mode });

/** What every place says the day's sales amount to, as money text. */
async function totalsEverywhere() {
  const reconciliation = (await t.get(`/api/v2/simple/reconciliation/?jour=${JOUR}`)).json();
  const statistiques = (await t.get('/api/v2/simple/statistiques/')).json().statistiques;
  const rapport = (createRapportReader(t.db).rapport(2, JOUR, NOW) as { rapport: Rapport }).rapport;
  const rows = t.db
    .prepare('SELECT typeof(montant_total) AS type, CAST(montant_total AS TEXT) AS texte FROM chiffres_jour WHERE boutique_id = 2 AND jour = ?')
    .all(JOUR) as Array<{ type: string; texte: string }>;
  const chiffres = rows.reduce((sum, r) => sum + BigInt(r.texte), 0n);
  return {
    reconciliation: reconciliation.montant_total as string,
    statistiques_jour: statistiques.aujourd_hui.chiffre_affaires as string,
    statistiques_total: statistiques.total.chiffre_affaires as string,
    rapport: rapport.total.net,
    rapport_caisse: rapport.caisses.find((c) => c.serial === '0a1badae951f8473')!.net,
    chiffres_jour: `${chiffres / 100n}.${String(chiffres % 100n).padStart(2, '0')}`,
    types: [...new Set(rows.map((r) => r.type))],
  };
}

describe('sums of money past 2^53 centimes stay exact', () => {
  it('the attacker’s day (1.9e16 centimes): reconciliation, rapport, statistiques and the daily totals agree to the centime', async () => {
    const res = await t.sync([
      // In numero order, the order a running sum meets them: in binary floating point it ends
      // 4 centimes off.
      sale('A1', '0.01'),
      sale('A2', '9999999999.99'),
      sale('A3', '99999999999.99'),
      sale('A4', '9999999999999.99', 9),
      sale('A5', '0.01'),
      sale('A6', '999999999999.99'),
      sale('A7', '9999999999999.99'),
      sale('A8', '9999999999999.99', 9),
    ]);
    expect(res.json().statistiques.reussies).toBe(8);
    const expected = '191109999999999.80';
    expect(await totalsEverywhere()).toEqual({
      reconciliation: expected,
      statistiques_jour: expected,
      statistiques_total: expected,
      rapport: expected,
      rapport_caisse: expected,
      chiffres_jour: expected,
      types: ['integer'],
    });
  });

  it('a day past 2^63 centimes across payment modes: every total exact; a sale taking one mode’s day past 2^63 is refused, nothing written', async () => {
    // 9 × 9999999999999.99 = 89999999999999.91 a sale, 1000 of them per mode: 9e18 centimes a mode.
    for (const mode of ['CASH', 'MOBILE_MONEY']) {
      for (let batch = 0; batch < 2; batch++) {
        const ventes = Array.from({ length: 500 }, (_, i) => sale(`${mode}-${batch}-${i}`, '9999999999999.99', 9, mode));
        expect((await t.sync(ventes)).json().statistiques.reussies).toBe(500);
      }
    }
    const expected = (2000n * 8999999999999991n) / 100n + '.' + String((2000n * 8999999999999991n) % 100n).padStart(2, '0');
    expect(expected).toBe('179999999999999820.00');
    expect(await totalsEverywhere()).toEqual({
      reconciliation: expected,
      statistiques_jour: expected,
      statistiques_total: expected,
      rapport: expected,
      rapport_caisse: expected,
      chiffres_jour: expected,
      types: ['integer'],
    });

    // CASH holds 9e18 centimes; 25 more sales of 9e15 would pass 2^63 - 1 (9.22e18).
    const room = MAX_CHIFFRES_JOUR_CENTIMES - 1000n * 8999999999999991n;
    const fits = Number(room / 8999999999999991n);
    const more = Array.from({ length: fits + 1 }, (_, i) => sale(`CASH-plus-${i}`, '9999999999999.99', 9));
    const body = (await t.sync(more)).json();
    expect(body.statistiques.reussies).toBe(fits);
    expect(body.ventes_erreurs).toEqual([expect.objectContaining({ numero_facture: `CASH-plus-${fits}`, code: 'INVALID_SALE' })]);
    expect(t.db.prepare("SELECT COUNT(*) FROM ventes WHERE numero_facture = ?").pluck().get(`CASH-plus-${fits}`)).toBe(0);
    const after = await totalsEverywhere();
    expect(after.types).toEqual(['integer']);
    expect(new Set([after.reconciliation, after.rapport, after.statistiques_jour, after.chiffres_jour]).size).toBe(1);
  }, 60_000);

  it('a change of zone that would merge two days past 2^63 centimes is refused, zone and totals unchanged', async () => {
    // 600 sales of 9e15 centimes at 23:30 UTC on the 28th, 600 at 00:30 UTC on the 29th: two
    // days in UTC, one day (the 29th) in Kinshasa (+1).
    for (const [prefix, date] of [['LATE', '2025-10-28T23:30:00Z'], ['EARLY', '2025-10-29T00:30:00Z']] as const) {
      for (const part of [0, 1]) {
        const ventes = Array.from({ length: 300 }, (_, i) => ({ ...sale(`${prefix}-${part}-${i}`, '9999999999999.99', 9), date_vente: date }));
        expect((await t.sync(ventes)).json().statistiques.reussies).toBe(300);
      }
    }
    const before = t.db.prepare('SELECT jour, CAST(montant_total AS TEXT) AS m FROM chiffres_jour ORDER BY jour').all();
    expect(() => createCatalogueStore(t.db).setBoutique(2, { fuseau: 'Africa/Kinshasa' })).toThrow(CatalogueError);
    expect(t.db.prepare('SELECT fuseau FROM boutiques WHERE id = 2').pluck().get()).toBe('UTC');
    expect(t.db.prepare('SELECT jour, CAST(montant_total AS TEXT) AS m FROM chiffres_jour ORDER BY jour').all()).toEqual(before);
  }, 60_000);
});
