import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { createCatalogueStore } from '../src/catalogue-store.js';
import { type Db, openDatabase } from '../src/db/open-database.js';
import { DEMO_FIXTURE } from '../src/demo-data.js';
import { importFixture } from '../src/fixture-import.js';
import { checkAnswersAgainstOpenApi } from './openapi-conformance.js';

export const SERIAL = '0a1badae951f8473';
export const OTHER_SERIAL = 'autre-boutique-01';
export const SECOND_SERIAL = 'caisse-2-boutique-2';
export const INACTIVE_SERIAL = 'terminal-inactif';
export const SYNC = '/api/v2/simple/ventes/sync/';

/** The guide's data, plus a second boutique, a low-stock article and a priced-in-cents one. */
export const TEST_FIXTURE = {
  boutiques: [...DEMO_FIXTURE.boutiques, { id: 3, nom: 'Boutique Gombe', devise: 'CDF' }],
  terminaux: [
    ...DEMO_FIXTURE.terminaux,
    { serial: SECOND_SERIAL, nom: 'Caisse 2', boutique_id: 2, actif: true },
    { serial: OTHER_SERIAL, nom: 'Caisse Gombe', boutique_id: 3, actif: true },
    { serial: INACTIVE_SERIAL, nom: 'Ancienne caisse', boutique_id: 2, actif: false },
  ],
  articles: [
    ...DEMO_FIXTURE.articles,
    { id: 8, boutique_id: 3, nom: 'Article Gombe', prix_vente: '1000.00', stock: 50 },
    { id: 9, boutique_id: 2, nom: 'Savon', prix_vente: '19.99', stock: 100 },
    { id: 10, boutique_id: 2, nom: 'Chargeur', prix_vente: '5000.00', stock: 2 },
  ],
};

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ventesync-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openTestDb(file = ':memory:'): Db {
  const db = openDatabase(file);
  const result = importFixture(db, createCatalogueStore(db), TEST_FIXTURE, new Date('2025-10-01T00:00:00Z'));
  if (!result.ok) throw new Error(result.erreur);
  return db;
}

export async function testApp(options: { now?: () => Date; file?: string } = {}) {
  const db = openTestDb(options.file);
  const app = await buildApp({ db, logger: false, ...(options.now ? { now: options.now } : {}) });
  // Every answer of every test that uses this app must be one /openapi.json promises.
  checkAnswersAgainstOpenApi(app);
  const sync = (body: unknown, serial: string = SERIAL) =>
    app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'content-type': 'application/json', 'x-device-serial': serial },
      payload: JSON.stringify(body),
    });
  const get = (url: string, serial: string = SERIAL) => app.inject({ method: 'GET', url, headers: { 'x-device-serial': serial } });
  const stock = (articleId: number) =>
    (db.prepare('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(articleId) as number);
  const mouvements = (articleId: number) =>
    db.prepare('SELECT * FROM mouvements_stock WHERE article_id = ? AND type = ? ORDER BY id').all(articleId, 'SORTIE') as Array<{
      quantite: number;
      stock_avant: number;
      stock_apres: number;
      reference: string;
      terminal_serial: string;
      date: string;
    }>;
  const venteCount = () => db.prepare('SELECT COUNT(*) FROM ventes').pluck().get() as number;
  return {
    app,
    db,
    sync,
    get,
    stock,
    mouvements,
    venteCount,
    close: async () => {
      await app.close();
      db.close();
    },
  };
}

export function vente(numero: string | undefined, lignes: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return { ...(numero === undefined ? {} : { numero_facture: numero }), mode_paiement: 'CASH', paye: true, lignes, ...extra };
}
