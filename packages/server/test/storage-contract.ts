import type { RelayReport } from '@ventesync/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TerminalContext } from '../src/catalogue-store.js';
import type { Storage } from '../src/storage/storage.js';

/**
 * What every storage backend must do, said as a shop would see it, through the interface
 * alone (storage.ts): no SQL, no file, no backend's own table. storage-sqlite.test.ts runs it on
 * SQLite, storage-postgres.test.ts on a real PostgreSQL.
 */
export type MakeStorage = () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>;

const BOUTIQUE = 2;
const FUSEAU = 'Africa/Kinshasa';
const SERIAL = 'contrat-caisse-1';
const SECOND_SERIAL = 'contrat-caisse-2';
/** Articles: a phone at 40,000.00 (10 in stock), a charger at 2,500.00 (2 in stock). */
const PHONE = 6;
const CHARGER = 7;
/** 11:00 in Kinshasa (UTC+1): the local day is 2025-10-29. */
const NOW = new Date('2025-10-29T10:00:00Z');
const JOUR = '2025-10-29';
const SOURCE = { utilisateur: 'gerant', commande: 'ventesync-server stock add 6 5' };
/** The body's weight as the routes pass it: small, well inside every queue bound. */
const BYTES = 1_000;

const REPORT: RelayReport = {
  version: '0.1.0',
  ventes: { en_attente: 3, rejetees: 0, abandonnees: 0, synchronisees: 40 },
  attente_plus_ancienne_s: 120,
  dernier_succes: '2025-10-29T09:58:00.000Z',
  derniere_reconciliation: null,
};

type Ligne = { article_id: number; quantite?: number };
const vente = (numero: string, lignes: Ligne[], extra: Record<string, unknown> = {}) => ({ numero_facture: numero, lignes, ...extra });
const retour = (numero: string, facture: string, lignes: Ligne[], extra: Record<string, unknown> = {}) => ({ numero_retour: numero, numero_facture: facture, lignes, ...extra });

/** A rejection's `code` (CatalogueError on every backend), or what it threw when it did not reject. */
async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return 'pas de refus';
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
}

export function describeStorageContract(name: string, makeStorage: MakeStorage): void {
  describe(`storage contract: ${name}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    let terminal: TerminalContext;

    beforeEach(async () => {
      ({ storage, cleanup } = await makeStorage());
      const c = storage.catalogue;
      await c.addBoutique('Boutique Contrat', 'CDF', BOUTIQUE, { fuseau: FUSEAU });
      await c.addTerminal(SERIAL, 'Caisse 1', BOUTIQUE);
      await c.addTerminal(SECOND_SERIAL, 'Caisse 2', BOUTIQUE);
      await c.addArticle({ id: PHONE, boutique_id: BOUTIQUE, nom: 'Samsung S24', prix_vente: 4_000_000, stock: 10 }, NOW);
      await c.addArticle({ id: CHARGER, boutique_id: BOUTIQUE, nom: 'Chargeur', prix_vente: 250_000, stock: 2 }, NOW);
      terminal = (await c.findActiveTerminal(SERIAL))!;
    });
    afterEach(async () => {
      await storage.close();
      await cleanup();
    });

    const sales = (items: unknown[], options: { viaRelay?: boolean } = {}, till: TerminalContext = terminal) => {
      const written = storage.writes.sales(till, items, NOW, options, BYTES);
      if (written === null) throw new Error('file d’écriture pleine');
      return written;
    };
    const retours = (items: unknown[]) => {
      const written = storage.writes.retours(terminal, items, NOW, BYTES);
      if (written === null) throw new Error('file d’écriture pleine');
      return written;
    };
    const stockOf = async (id: number) => (await storage.catalogue.getArticle(id))!.quantite_stock;
    const history = () => storage.reader.historique({ boutiqueId: BOUTIQUE, limit: 50, offset: 0, from: null, to: null });

    it('an active terminal is found with its boutique, zone and stock rule; an unknown or disabled one is not', async () => {
      expect(terminal).toMatchObject({
        serial: SERIAL,
        nom: 'Caisse 1',
        boutique_id: BOUTIQUE,
        boutique_nom: 'Boutique Contrat',
        devise: 'CDF',
        fuseau: FUSEAU,
        stock_negatif: 'refuser',
        secret: null,
      });
      expect(await storage.catalogue.findActiveTerminal('inconnu')).toBeUndefined();
      expect(await storage.catalogue.setTerminalActif(SERIAL, false)).toMatchObject({ actif: false, changed: true });
      expect(await storage.catalogue.findActiveTerminal(SERIAL)).toBeUndefined();
      expect(await storage.catalogue.setTerminalActif(SERIAL, false)).toMatchObject({ actif: false, changed: false });
    });

    it('a sale written is read back in the history with its lines, and the stock goes down by what it sold', async () => {
      const result = await sales([vente('V-1', [{ article_id: PHONE, quantite: 2 }, { article_id: CHARGER }])]);
      expect(result.erreurs).toEqual([]);
      expect(result.creees).toEqual([expect.objectContaining({ numero_facture: 'V-1', montant_total: '82500.00' })]);

      const page = await history();
      expect(page.total).toBe(1);
      expect(page.ventes[0]).toMatchObject({ numero_facture: 'V-1', montant_total: '82500.00', terminal: 'Caisse 1' });
      expect(page.ventes[0]!.lignes).toHaveLength(2);
      expect([await stockOf(PHONE), await stockOf(CHARGER)]).toEqual([8, 1]);
      const [sortie] = await storage.catalogue.listMouvements(PHONE, 10);
      expect(sortie).toMatchObject({ type: 'SORTIE', stock_avant: 10, stock_apres: 8, terminal_serial: SERIAL });
      expect((await storage.reader.recentVentes(BOUTIQUE, 10)).map((v) => v.numero_facture)).toEqual(['V-1']);
      expect(storage.writes.stats().salesWritten).toBe(1);
    });

    it('a sale short of stock is refused INSUFFICIENT_STOCK and leaves nothing; the other sales of the batch are written', async () => {
      const result = await sales([
        vente('V-1', [{ article_id: PHONE }, { article_id: CHARGER, quantite: 3 }]),
        vente('V-2', [{ article_id: PHONE }]),
      ]);
      // `index` counts from 1, as the answer to the till says it.
      expect(result.erreurs.map((e) => [e.index, e.code])).toEqual([[1, 'INSUFFICIENT_STOCK']]);
      expect(result.creees.map((v) => v.numero_facture)).toEqual(['V-2']);
      // The refused sale's first line took nothing: each sale whole or not at all.
      expect([await stockOf(PHONE), await stockOf(CHARGER)]).toEqual([9, 2]);
      expect((await history()).ventes.map((v) => v.numero_facture)).toEqual(['V-2']);
    });

    it('the last units go to one sale only: a second sale of them is refused', async () => {
      expect((await sales([vente('V-1', [{ article_id: CHARGER, quantite: 2 }])])).creees).toHaveLength(1);
      const second = await sales([vente('V-2', [{ article_id: CHARGER }])]);
      expect(second.erreurs.map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
      expect(await stockOf(CHARGER)).toBe(0);
    });

    it('two requests in flight at once for the last units: one sale gets them, the other is refused', async () => {
      const [a, b] = await Promise.all([
        sales([vente('V-A', [{ article_id: CHARGER, quantite: 2 }])]),
        sales([vente('V-B', [{ article_id: CHARGER, quantite: 2 }])], {}, (await storage.catalogue.findActiveTerminal(SECOND_SERIAL))!),
      ]);
      expect([a.creees.length + b.creees.length, a.erreurs.length + b.erreurs.length]).toEqual([1, 1]);
      expect([...a.erreurs, ...b.erreurs].map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
      expect(await stockOf(CHARGER)).toBe(0);
      expect((await history()).total).toBe(1);
    });

    it('the same numero sent twice at once is created once', async () => {
      const sale = vente('V-1', [{ article_id: PHONE }]);
      const [a, b] = await Promise.all([sales([sale]), sales([sale])]);
      expect(a.creees.length + b.creees.length).toBe(1);
      expect([...a.erreurs, ...b.erreurs]).toEqual([expect.objectContaining({ code: 'DUPLICATE', identique: true })]);
      expect(await stockOf(PHONE)).toBe(9);
    });

    it('through a relay, a sale short of stock is created: the stock goes below zero with a STOCK_NEGATIF warning', async () => {
      const result = await sales([vente('V-1', [{ article_id: CHARGER, quantite: 3 }])], { viaRelay: true });
      expect(result.erreurs).toEqual([]);
      expect(result.creees[0]!.avertissements).toEqual([expect.objectContaining({ code: 'STOCK_NEGATIF', article_id: CHARGER, manque: 1 })]);
      expect(await stockOf(CHARGER)).toBe(-1);
      const negatif = await storage.reader.stockNegatif(BOUTIQUE);
      expect(negatif).toEqual([expect.objectContaining({ id: CHARGER, quantite_stock: -1, ventes_omises: 0 })]);
      expect(negatif[0]!.ventes).toEqual([expect.objectContaining({ numero_facture: 'V-1', quantite: 3, stock_avant: 2, stock_apres: -1 })]);
    });

    it('a boutique set to autoriser creates short sales too; refuser again refuses them', async () => {
      await storage.catalogue.setBoutique(BOUTIQUE, { stock_negatif: 'autoriser' });
      const allowed = (await storage.catalogue.findActiveTerminal(SERIAL))!;
      expect((await sales([vente('V-1', [{ article_id: CHARGER, quantite: 3 }])], {}, allowed)).creees).toHaveLength(1);
      await storage.catalogue.setBoutique(BOUTIQUE, { stock_negatif: 'refuser' });
      const refusing = (await storage.catalogue.findActiveTerminal(SERIAL))!;
      expect((await sales([vente('V-2', [{ article_id: PHONE, quantite: 11 }])], {}, refusing)).erreurs.map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
    });

    it('the same numero again is a DUPLICATE, identique when it is the same sale, and the stock moves once', async () => {
      const sale = vente('V-1', [{ article_id: PHONE, quantite: 2 }]);
      await sales([sale]);
      const again = await sales([sale]);
      expect(again.creees).toEqual([]);
      expect(again.erreurs).toEqual([expect.objectContaining({ numero_facture: 'V-1', code: 'DUPLICATE', identique: true })]);
      const other = await sales([vente('V-1', [{ article_id: PHONE, quantite: 1 }])]);
      expect(other.erreurs).toEqual([expect.objectContaining({ code: 'DUPLICATE', identique: false })]);
      // The same numero from another till of the boutique is the same sale number too.
      const second = (await storage.catalogue.findActiveTerminal(SECOND_SERIAL))!;
      expect((await sales([sale], {}, second)).erreurs.map((e) => e.code)).toEqual(['DUPLICATE']);
      expect(await stockOf(PHONE)).toBe(8);
      expect((await history()).total).toBe(1);
    });

    it('a return puts the stock back and cannot return more than the sale sold', async () => {
      await sales([vente('V-1', [{ article_id: PHONE, quantite: 3 }])]);
      const first = await retours([retour('R-1', 'V-1', [{ article_id: PHONE, quantite: 2 }])]);
      expect(first.erreurs).toEqual([]);
      expect(first.crees).toEqual([expect.objectContaining({ numero_retour: 'R-1', numero_facture: 'V-1' })]);
      expect(await stockOf(PHONE)).toBe(9);

      const beyond = await retours([retour('R-2', 'V-1', [{ article_id: PHONE, quantite: 2 }])]);
      expect(beyond.erreurs.map((e) => e.code)).toEqual(['RETURN_EXCEEDS_SALE']);
      const unknown = await retours([retour('R-3', 'V-inconnue', [{ article_id: PHONE }])]);
      expect(unknown.erreurs.map((e) => e.code)).toEqual(['SALE_NOT_FOUND']);
      const replay = await retours([retour('R-1', 'V-1', [{ article_id: PHONE, quantite: 2 }])]);
      expect(replay.erreurs.map((e) => e.code)).toEqual(['DUPLICATE']);
      expect(await stockOf(PHONE)).toBe(9);
      expect((await history()).ventes[0]!.retours).toEqual([expect.objectContaining({ numero_retour: 'R-1' })]);
    });

    it('a return dated before its sale is dated at the sale, the till’s date kept: the day before has no refund', async () => {
      const saleAt = new Date(NOW.getTime() - 3_600_000).toISOString();
      const before = new Date(NOW.getTime() - 3 * 86_400_000).toISOString();
      await sales([vente('V-1', [{ article_id: PHONE, quantite: 2 }], { date_vente: saleAt })]);
      const result = await retours([retour('R-1', 'V-1', [{ article_id: PHONE }], { date_retour: before })]);
      expect(result.datesRemplacees).toEqual([{ numero_retour: 'R-1', date_retour_caisse: before, date_retour: saleAt }]);
      const [v1] = (await history()).ventes;
      expect(v1!.retours).toEqual([expect.objectContaining({ numero_retour: 'R-1', date_retour: saleAt, date_retour_caisse: before })]);
      const jourAvant = await storage.reader.rapport(BOUTIQUE, before.slice(0, 10), NOW);
      expect(jourAvant.ok && jourAvant.rapport.total.nombre_retours).toBe(0);
    });

    it('statistiques, rapport and reconciliation agree with the sales and returns written', async () => {
      await sales([
        vente('V-1', [{ article_id: PHONE, quantite: 2 }], { mode_paiement: 'CASH' }),
        vente('V-2', [{ article_id: CHARGER }], { mode_paiement: 'MOBILE_MONEY' }),
      ]);
      await retours([retour('R-1', 'V-1', [{ article_id: PHONE }])]);

      // chiffre_affaires is net of the returns: 82,500.00 sold, 40,000.00 given back.
      const stats = await storage.reader.statistiques(BOUTIQUE, NOW, FUSEAU);
      expect(stats.aujourd_hui).toMatchObject({ date: JOUR, nombre_ventes: 2, chiffre_affaires: '42500.00', nombre_retours: 1, montant_retours: '40000.00' });
      expect(stats.total).toMatchObject({ nombre_ventes: 2, chiffre_affaires: '42500.00', nombre_retours: 1 });
      expect(stats.aujourd_hui.par_mode_paiement.MOBILE_MONEY).toMatchObject({ nombre_ventes: 1, chiffre_affaires: '2500.00' });

      const rapport = await storage.reader.rapport(BOUTIQUE, JOUR, NOW);
      if (!rapport.ok) throw new Error(rapport.erreur);
      expect(rapport.rapport.total).toMatchObject({ nombre_ventes: 2, montant_ventes: '82500.00', nombre_retours: 1, montant_retours: '40000.00', net: '42500.00' });
      expect(rapport.rapport.caisses.map((c) => [c.serial, c.nombre_ventes])).toEqual([
        [SERIAL, 2],
        [SECOND_SERIAL, 0],
      ]);
      expect(await storage.reader.rapport(99, JOUR, NOW)).toMatchObject({ ok: false });

      const day = await storage.reconciliation.day(BOUTIQUE, SERIAL, JOUR);
      expect(day).toMatchObject({ fuseau: FUSEAU, nombre_ventes: 2, montant_total: 4_250_000n });
      expect(day.empreinte).toMatch(/^[0-9a-f]+$/);
      // Net of its returns, as the day's total counts it; what was returned said beside.
      const page = await storage.reconciliation.page(BOUTIQUE, SERIAL, JOUR, null, 1);
      expect(page).toEqual({ ventes: [{ numero_facture: 'V-1', montant_total: '40000.00', montant_retours: '40000.00', retours: ['R-1'] }], suite: 'V-1' });
      expect(await storage.reconciliation.page(BOUTIQUE, SERIAL, JOUR, 'V-1', 1)).toEqual({
        ventes: [{ numero_facture: 'V-2', montant_total: '2500.00' }],
        suite: null,
      });
      // Another till's day, or another day: nothing.
      expect(await storage.reconciliation.day(BOUTIQUE, SECOND_SERIAL, JOUR)).toMatchObject({ nombre_ventes: 0, montant_total: 0n });
      expect(await storage.reconciliation.day(BOUTIQUE, SERIAL, '2025-10-30')).toMatchObject({ nombre_ventes: 0 });
    });

    it('a sale after a day was reconciled changes that day’s count and fingerprint', async () => {
      await sales([vente('V-1', [{ article_id: PHONE }])]);
      const before = await storage.reconciliation.day(BOUTIQUE, SERIAL, JOUR);
      await sales([vente('V-2', [{ article_id: PHONE }])]);
      const after = await storage.reconciliation.day(BOUTIQUE, SERIAL, JOUR);
      expect(after.nombre_ventes).toBe(before.nombre_ventes + 1);
      expect(after.empreinte).not.toBe(before.empreinte);
    });

    it('a boutique’s new zone moves its sales to their new local days', async () => {
      // 23:30 UTC on the 28th is already the 29th in Kinshasa, still the 28th in UTC.
      const late = new Date('2025-10-28T23:30:00Z');
      const written = storage.writes.sales(terminal, [vente('V-1', [{ article_id: PHONE }], { date_vente: late.toISOString() })], NOW, {}, BYTES);
      await written;
      expect((await storage.reader.statistiques(BOUTIQUE, NOW, FUSEAU)).aujourd_hui.nombre_ventes).toBe(1);
      const changed = await storage.catalogue.setBoutique(BOUTIQUE, { fuseau: 'UTC' });
      expect(changed).toMatchObject({ fuseau: 'UTC', changed: true, totauxRecalcules: true });
      expect((await storage.reader.statistiques(BOUTIQUE, NOW, 'UTC')).aujourd_hui.nombre_ventes).toBe(0);
      expect((await storage.reader.statistiques(BOUTIQUE, new Date('2025-10-28T12:00:00Z'), 'UTC')).aujourd_hui.nombre_ventes).toBe(1);
    });

    it('the catalogue: boutiques, terminals, articles and stock are set up and changed, with refusals coded', async () => {
      const c = storage.catalogue;
      expect(await c.isEmpty()).toBe(false);
      const added = await c.addBoutique('Boutique Gombe', 'USD');
      expect(added).toMatchObject({ nom: 'Boutique Gombe', devise: 'USD', fuseau: 'UTC', stock_negatif: 'refuser' });
      expect(added.id).toBeGreaterThan(BOUTIQUE);
      expect((await c.listBoutiques()).map((b) => b.id)).toEqual([BOUTIQUE, added.id]);
      expect(await c.findBoutique(99)).toBeUndefined();
      expect(await codeOf(c.getBoutique(99))).toBe('NOT_FOUND');
      expect(await codeOf(c.addBoutique('Doublon', 'CDF', BOUTIQUE))).toBe('CONFLICT');
      expect(await codeOf(c.setBoutique(BOUTIQUE, { fuseau: 'Africa/Atlantis' }))).toBe('INVALID_FUSEAU');
      expect(await c.setBoutique(BOUTIQUE, { nom: 'Boutique Contrat' })).toMatchObject({ changed: false });
      expect(await c.setBoutique(BOUTIQUE, { nom: 'Boutique Renommée' })).toMatchObject({ nom: 'Boutique Renommée', changed: true, totauxRecalcules: false });

      expect(await codeOf(c.addTerminal(SERIAL, 'Encore', BOUTIQUE))).toBe('CONFLICT');
      expect(await codeOf(c.addTerminal('caisse-nulle-part', 'Caisse', 99))).toBe('NOT_FOUND');
      expect((await c.listTerminaux()).map((t) => [t.serial, t.actif, t.signe])).toEqual([
        [SERIAL, true, false],
        [SECOND_SERIAL, true, false],
      ]);
      const issued = await c.issueTerminalSecret(SERIAL, false);
      expect(issued.secret.length).toBeGreaterThan(20);
      expect((await c.findActiveTerminal(SERIAL))!.secret).toBe(issued.secret);
      expect(await codeOf(c.issueTerminalSecret(SERIAL, false))).toBe('CONFLICT');
      expect((await c.issueTerminalSecret(SERIAL, true)).secret).not.toBe(issued.secret);
      expect(await c.getTerminal(SERIAL)).toMatchObject({ serial: SERIAL, signe: true });

      const article = await c.addArticle({ boutique_id: added.id, nom: 'Savon', prix_vente: 1_999, stock: 4 }, NOW);
      expect(article).toMatchObject({ boutique_id: added.id, nom: 'Savon', prix_vente: 1_999, quantite_stock: 4 });
      expect((await c.listArticles(BOUTIQUE)).map((a) => a.id)).toEqual([PHONE, CHARGER]);
      expect((await c.listArticles()).map((a) => a.id)).toEqual([PHONE, CHARGER, article.id]);
      expect(await c.addStock(article.id, 6, NOW, 'BL-1')).toMatchObject({ type: 'ENTREE', quantite: 6, stock_avant: 4, stock_apres: 10, reference: 'BL-1' });
      expect(await c.setStock(article.id, 7, NOW)).toMatchObject({ type: 'AJUSTEMENT', quantite: -3, stock_avant: 10, stock_apres: 7, reference: 'inventaire' });
      expect(await codeOf(c.addStock(article.id, 0, NOW))).toBe('INVALID');
      expect(await codeOf(c.setStock(999, 1, NOW))).toBe('NOT_FOUND');
      expect((await c.listMouvements(article.id, 10)).map((m) => m.type)).toEqual(['AJUSTEMENT', 'ENTREE', 'ENTREE']);
      expect(await stockOf(article.id)).toBe(7);
    });

    it('relays: added for existing boutiques, found while active with their terminals, rotated, disabled', async () => {
      const r = storage.relays;
      expect(await codeOf(r.add('Relais', [99]))).toBe('NOT_FOUND');
      const added = await r.add('Relais Gombe', [BOUTIQUE]);
      const found = await r.findActive(added.id);
      expect(found).toMatchObject({ id: added.id, secret: added.secret });
      expect([...found!.boutiques]).toEqual([BOUTIQUE]);
      expect((await r.terminalsOf(added.id)).map((t) => [t.serial, t.boutique_id, t.actif, t.secret])).toEqual([
        [SERIAL, BOUTIQUE, true, null],
        [SECOND_SERIAL, BOUTIQUE, true, null],
      ]);
      const unsigned = await r.terminalsVersion(added.id, false);
      expect(unsigned).toMatch(/^[\w-]{8,}$/);
      expect(await r.terminalsVersion(added.id, true)).not.toBe(unsigned);

      const rotated = await r.rotate(added.id);
      expect(rotated.secret).not.toBe(added.secret);
      expect((await r.findActive(added.id))!.secret).toBe(rotated.secret);
      expect(await codeOf(r.rotate(999))).toBe('NOT_FOUND');

      await r.saveReport(added.id, REPORT, NOW);
      const [overview] = await r.overview(new Date(NOW.getTime() + 60_000));
      expect(overview).toMatchObject({ id: added.id, nom: 'Relais Gombe', boutiques: [BOUTIQUE], actif: true, silencieux: false, en_retard: false });
      expect(overview!.dernier_rapport).toMatchObject({ ...REPORT, recu_le: NOW.toISOString() });

      expect(await r.disable(added.id)).toBe(true);
      expect(await r.findActive(added.id)).toBeUndefined();
      expect(await r.disable(added.id)).toBe(false);
      expect(await codeOf(r.disable(999))).toBe('NOT_FOUND');
    });

    it('an audited change is kept with its audit row; one that fails keeps neither', async () => {
      const stockChange = await storage.audited(SOURCE, (tx) => tx.catalogue.addStock(PHONE, 5, NOW), (m) => `Stock ${m.stock_avant} → ${m.stock_apres}`);
      expect(stockChange.stock_apres).toBe(15);
      const rows = await storage.audit.list({ depuis: null, limit: 10 });
      expect(rows).toEqual([expect.objectContaining({ utilisateur: 'gerant', commande: SOURCE.commande, changement: 'Stock 10 → 15' })]);

      const failing = storage.audited(
        SOURCE,
        async (tx) => {
          await tx.catalogue.addStock(PHONE, 5, NOW);
          return tx.catalogue.addStock(999, 1, NOW);
        },
        () => 'jamais écrit',
      );
      expect(await codeOf(failing)).toBe('NOT_FOUND');
      expect(await stockOf(PHONE)).toBe(15);
      // Nothing changed (describe says null): no row.
      await storage.audited(SOURCE, (tx) => tx.catalogue.setTerminalActif(SERIAL, true), (t) => (t.changed ? 'changé' : null));
      expect(await storage.audit.list({ depuis: null, limit: 10 })).toHaveLength(1);
      expect(await storage.audit.list({ depuis: new Date(Date.now() + 3_600_000), limit: 10 })).toEqual([]);
    });

    it('a fixture import is all or nothing, audited with the change it made', async () => {
      const bad = await storage.audited(
        SOURCE,
        (tx) =>
          tx.importFixture(
            {
              boutiques: [{ id: 5, nom: 'Nouvelle', devise: 'CDF' }],
              articles: [{ id: 50, boutique_id: 77, nom: 'Orphelin', prix_vente: '10.00', stock: 1 }],
            },
            NOW,
          ),
        (result) => (result.ok ? 'importé' : null),
      );
      expect(bad).toMatchObject({ ok: false });
      expect(await storage.catalogue.findBoutique(5)).toBeUndefined();
      expect(await storage.audit.list({ depuis: null, limit: 10 })).toEqual([]);

      const good = await storage.audited(
        SOURCE,
        (tx) =>
          tx.importFixture(
            {
              boutiques: [{ id: 5, nom: 'Nouvelle', devise: 'CDF', fuseau: FUSEAU }],
              terminaux: [{ serial: 'caisse-nouvelle', nom: 'Caisse N', boutique_id: 5, actif: true }],
              articles: [{ id: 50, boutique_id: 5, nom: 'Riz', prix_vente: '10.00', stock: 3 }],
            },
            NOW,
          ),
        (result) => (result.ok ? 'importé' : null),
      );
      expect(good).toEqual({ ok: true, boutiques: 1, terminaux: 1, articles: 1 });
      expect(await storage.catalogue.findActiveTerminal('caisse-nouvelle')).toMatchObject({ boutique_id: 5, fuseau: FUSEAU });
      expect(await stockOf(50)).toBe(3);
      expect((await storage.audit.list({ depuis: null, limit: 10 })).map((r) => r.changement)).toEqual(['importé']);
    });

    it('a signature is accepted once; the same one again is a replay', async () => {
      const t = Math.floor(NOW.getTime() / 1000);
      const signature = { t, v1: 'ab'.repeat(32) };
      expect(await storage.signatures.accept(signature, t)).toBe(true);
      expect(await storage.signatures.accept(signature, t + 1)).toBe(false);
      expect(await storage.signatures.accept({ t, v1: 'cd'.repeat(32) }, t + 1)).toBe(true);
    });

    it('monitoring: the database answers, takes a write, has a size; the queue is empty when idle', async () => {
      await expect(storage.health.ping()).resolves.toBeUndefined();
      await expect(storage.health.probeWrite()).resolves.toBeUndefined();
      expect(await storage.health.sizeBytes()).toBeGreaterThan(0);
      expect(storage.writes.queued()).toBe(0);
      expect(['sqlite', 'postgres']).toContain(storage.kind);
      expect(storage.where).not.toMatch(/:[^:@/]+@/); // never a password
    });
  });
}
