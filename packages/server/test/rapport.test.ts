import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Db } from '../src/db/open-database.js';
import { createRapportReader, formatRapport, type Rapport } from '../src/rapport.js';
import { runCli } from './child-server.js';
import { openTestDb, SECOND_SERIAL, SERIAL, SYNC, tempDir, vente } from './helpers.js';

const RETOURS = '/api/v2/simple/ventes/retours/';
// 10:00 in Kinshasa (UTC+1) on 2025-10-29: when the report is asked for.
const NOW = new Date('2025-10-29T09:00:00Z');
// When the server received the sales: after all of them (a till's date ahead of the server's
// clock would be replaced, CONTRACT §7).
const RECEIVED = new Date('2025-10-31T08:00:00Z');

let tmp: ReturnType<typeof tempDir>;
let dbFile: string;
let db: Db;

beforeEach(() => {
  tmp = tempDir();
  dbFile = join(tmp.dir, 'server.db');
  db = openTestDb(dbFile);
  db.prepare("UPDATE boutiques SET fuseau = 'Africa/Kinshasa' WHERE id = 2").run();
});
afterEach(() => {
  if (db.open) db.close();
  tmp.cleanup();
});

async function send(path: string, body: unknown, serial = SERIAL) {
  const app = await buildApp({ db, logger: false, now: () => RECEIVED });
  try {
    const res = await app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/json', 'x-device-serial': serial },
      payload: JSON.stringify(body),
    });
    expect(res.statusCode, res.body).toBe(201);
  } finally {
    await app.close();
  }
}

/** A day of two tills around the local midnights of 2025-10-29 in Kinshasa. */
async function dayOfSales() {
  await send(SYNC, [
    // 23:30 UTC the day before is 00:30 local on the 29th: in the day.
    vente('C1-001', [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }], { date_vente: '2025-10-28T23:30:00Z' }),
    vente('C1-002', [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }], { date_vente: '2025-10-29T12:00:00+01:00', mode_paiement: 'MOBILE_MONEY' }),
    vente('C1-003', [{ article_id: 9, quantite: 1, prix_unitaire: '19.99' }], { date_vente: '2025-10-29T18:15:00+01:00', paye: false }),
    // 23:30 UTC on the 29th is 00:30 local on the 30th: not in the day.
    vente('C1-004', [{ article_id: 9, quantite: 1 }], { date_vente: '2025-10-29T23:30:00Z' }),
    // 22:59 UTC on the 28th is 23:59 local on the 28th: not in the day.
    vente('C1-000', [{ article_id: 9, quantite: 1 }], { date_vente: '2025-10-28T22:59:00Z' }),
  ]);
  await send(SYNC, [vente('C2-001', [{ article_id: 7, quantite: 1, prix_unitaire: 25000 }], { date_vente: '2025-10-29T09:05:00+01:00', mode_paiement: 'CARTE' })], SECOND_SERIAL);
  // A return at till 2 of a till-1 sale, during the day: counted at till 2, under the sale's mode.
  await send(RETOURS, [{ numero_retour: 'R-1', numero_facture: 'C1-001', lignes: [{ article_id: 7, quantite: 1 }], date_retour: '2025-10-29T15:00:00+01:00' }], SECOND_SERIAL);
  // A return the next local day: not in this report.
  await send(RETOURS, [{ numero_retour: 'R-2', numero_facture: 'C1-001', lignes: [{ article_id: 7, quantite: 1 }], date_retour: '2025-10-30T00:10:00+01:00' }]);
}

describe('rapport (daily close)', () => {
  it('per till and for the boutique: counts, modes net of returns, unpaid, first and last receipt in local time, on the local day', async () => {
    await dayOfSales();
    const result = createRapportReader(db).rapport(2, '2025-10-29', NOW);
    expect(result.ok).toBe(true);
    const r = (result as { rapport: Rapport }).rapport;
    expect(r).toMatchObject({ boutique_id: 2, fuseau: 'Africa/Kinshasa', jour: '2025-10-29', debut: '2025-10-28T23:00:00.000Z', fin: '2025-10-29T23:00:00.000Z' });

    const c1 = r.caisses.find((c) => c.serial === SERIAL)!;
    expect(c1).toMatchObject({
      terminal: 'Terminal messie vanza',
      nombre_ventes: 3,
      nombre_retours: 0,
      montant_ventes: '90019.99',
      net: '90019.99',
      impayees: { nombre_ventes: 1, montant: '19.99' },
      premier_ticket: { numero_facture: 'C1-001', heure_locale: '00:30:00' },
      dernier_ticket: { numero_facture: 'C1-003', heure_locale: '18:15:00' },
    });
    expect(c1.par_mode_paiement.CASH).toEqual({ nombre_ventes: 2, montant_ventes: '50019.99', nombre_retours: 0, montant_retours: '0.00', net: '50019.99' });

    const c2 = r.caisses.find((c) => c.serial === SECOND_SERIAL)!;
    expect(c2).toMatchObject({ nombre_ventes: 1, nombre_retours: 1, montant_ventes: '25000.00', montant_retours: '25000.00', net: '0.00' });
    expect(c2.par_mode_paiement.CASH).toMatchObject({ nombre_ventes: 0, nombre_retours: 1, net: '-25000.00' });
    expect(c2.premier_ticket).toEqual(c2.dernier_ticket);
    expect(c2.premier_ticket).toMatchObject({ numero_facture: 'C2-001', heure_locale: '09:05:00' });

    expect(r.total).toMatchObject({
      nombre_ventes: 4,
      nombre_retours: 1,
      montant_ventes: '115019.99',
      montant_retours: '25000.00',
      net: '90019.99',
      premier_ticket: { numero_facture: 'C1-001' },
      dernier_ticket: { numero_facture: 'C1-003' },
    });
    expect(r.ventes_impayees).toEqual([
      { numero_facture: 'C1-003', terminal: 'Terminal messie vanza', date_vente: '2025-10-29T17:15:00.000Z', heure_locale: '18:15:00', montant: '19.99' },
    ]);
    expect(r.ventes_impayees_omises).toBe(0);
  });

  it('the day before and after hold the sales across each local midnight; a quiet till is listed with zero', async () => {
    await dayOfSales();
    const reader = createRapportReader(db);
    const before = (reader.rapport(2, '2025-10-28', NOW) as { rapport: Rapport }).rapport;
    expect(before.total.nombre_ventes).toBe(1);
    expect(before.total.premier_ticket).toMatchObject({ numero_facture: 'C1-000', heure_locale: '23:59:00' });
    const after = (reader.rapport(2, '2025-10-30', NOW) as { rapport: Rapport }).rapport;
    expect(after.total).toMatchObject({ nombre_ventes: 1, nombre_retours: 1, montant_retours: '25000.00' });
    expect(after.caisses.find((c) => c.serial === SECOND_SERIAL)).toMatchObject({ nombre_ventes: 0, nombre_retours: 0, premier_ticket: null });
    // Without a day: today in the boutique's zone.
    expect((reader.rapport(2, undefined, new Date('2025-10-29T23:30:00Z')) as { rapport: Rapport }).rapport.jour).toBe('2025-10-30');
  });

  it('the table fits 80 columns', async () => {
    await dayOfSales();
    const text = formatRapport((createRapportReader(db).rapport(2, '2025-10-29', NOW) as { rapport: Rapport }).rapport);
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(text).toContain('Caisse « Terminal messie vanza » (0a1badae951f8473)');
    expect(text).toContain('premier ticket : 00:30:00 C1-001');
    expect(text).toMatch(/CASH\s+0\s+0\.00\s+1\s+25000\.00\s+-25000\.00/);
  });

  it('a 64-character receipt number, a long till name and a long boutique name still fit 80 columns, the numero whole on its line', async () => {
    const numero = `N${'0123456789'.repeat(6)}XYZ`;
    expect(numero).toHaveLength(64);
    db.prepare("UPDATE terminaux SET nom = ? WHERE serial = ?").run('Caisse principale du rez-de-chaussée, à gauche en entrant par la porte du marché', SERIAL);
    db.prepare("UPDATE boutiques SET nom = ? WHERE id = 2").run('Boutique de téléphones et accessoires du grand marché central de Kinshasa');
    await send(SYNC, [vente(numero, [{ article_id: 9, quantite: 1, prix_unitaire: '19.99' }], { date_vente: '2025-10-29T10:00:00+01:00', paye: false })]);
    const text = formatRapport((createRapportReader(db).rapport(2, '2025-10-29', NOW) as { rapport: Rapport }).rapport);
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    const lines = text.split('\n').map((line) => line.trim());
    expect(lines.filter((line) => line === numero).length).toBeGreaterThanOrEqual(3); // first, last ticket and unpaid list
    expect(text.replace(/\s+/g, ' ')).toContain('Caisse « Caisse principale du rez-de-chaussée, à gauche en entrant par la porte du marché »');
  });

  it('ventesync-server rapport: a repeated --jour or --boutique is refused, not run on the last one', async () => {
    db.close();
    for (const args of [
      ['--boutique', '2', '--jour', '2025-10-28', '--jour', '2025-10-29'],
      ['--boutique', '3', '--boutique', '2', '--jour', '2025-10-29'],
    ]) {
      const r = runCli(['rapport', ...args, '--db', dbFile]);
      expect([r.code, r.stdout], args.join(' ')).toEqual([1, '']);
      expect(r.stderr.split('\n')[0]).toMatch(/^Erreur : l'option « --(jour|boutique) <.+> » : donnée deux fois : une seule valeur attendue$/);
    }
  });

  it('ventesync-server rapport: table, --json, and a clear error with exit 1 for a day that is not a date or an unknown boutique', async () => {
    await dayOfSales();
    db.close();
    const table = runCli(['rapport', '--boutique', '2', '--jour', '2025-10-29', '--db', dbFile]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain('Rapport de caisse — Ma Boutique (boutique 2) — 2025-10-29');
    const json = runCli(['rapport', '--boutique', '2', '--jour', '2025-10-29', '--json', '--db', dbFile]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).total).toMatchObject({ nombre_ventes: 4, net: '90019.99' });

    for (const jour of ['2025-02-30', '29/10/2025', '2025-10-29T00:00:00Z', 'hier']) {
      const bad = runCli(['rapport', '--boutique', '2', '--jour', jour, '--db', dbFile]);
      expect([bad.code, bad.stdout]).toEqual([1, '']);
      expect(bad.stderr).toBe(`Erreur : --jour « ${jour} » n'est pas une date réelle : AAAA-MM-JJ attendu (ex. 2025-10-29)\n`);
    }
    const unknown = runCli(['rapport', '--boutique', '99', '--db', dbFile]);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'Erreur : Boutique 99 introuvable\n']);
  });
});
