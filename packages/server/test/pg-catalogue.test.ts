import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { openDatabase } from '../src/db/open-database.js';
import { articleElsewhere } from '../src/catalogue-rules.js';
import { createPgCatalogue } from '../src/postgres/pg-catalogue.js';
import { openPgPool, withTransaction } from '../src/postgres/pg-connect.js';
import { importPgFixture } from '../src/postgres/pg-fixture-import.js';
import { clientRunner, type PgRunner } from '../src/postgres/pg-runner.js';
import { createPgStorage } from '../src/postgres/pg-storage.js';
import { createSqliteStorage } from '../src/storage/sqlite-storage.js';
import type { Storage } from '../src/storage/storage.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';

const NOW = new Date('2026-11-25T10:00:00.000Z');

/** What a call gave: its result, or its refusal as code and French message. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await run() };
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown; constructor: { name: string } };
    return { refus: e.code, message: e.message, type: e.constructor.name };
  }
}

/** Secrets are random: compared by shape. */
const withoutSecrets = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'secret' && typeof v === 'string' ? `<${v.length} caractères>` : v)));

describe.skipIf(!pgSuiteEnabled())('the catalogue on PostgreSQL answers as on SQLite', () => {
  let cluster: PgCluster;
  let pgStorage: Storage;
  let sqlite: Storage;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  beforeEach(async () => {
    pgStorage = await createPgStorage(await cluster.createDatabase());
    sqlite = createSqliteStorage(openDatabase(':memory:'));
  });
  afterEach(async () => {
    await pgStorage.close();
    await sqlite.close();
  });

  /** Runs the same call on both and expects the same outcome (the result or the refusal, word for word). */
  async function same(call: (s: Storage) => Promise<unknown>): Promise<unknown> {
    const [onSqlite, onPg] = [await outcome(() => call(sqlite)), await outcome(() => call(pgStorage))];
    expect(withoutSecrets(onPg)).toEqual(withoutSecrets(onSqlite));
    return onPg;
  }

  it('boutiques: added, found, changed, refused with the same codes and words', async () => {
    await same((s) => s.catalogue.isEmpty());
    await same((s) => s.catalogue.addBoutique('Boutique Gombe', 'CDF', 5, { fuseau: 'Africa/Kinshasa' }));
    await same((s) => s.catalogue.addBoutique('Boutique Limete'));
    await same((s) => s.catalogue.addBoutique('Boutique Gombe bis', 'CDF', 5));
    await same((s) => s.catalogue.addBoutique('   '));
    await same((s) => s.catalogue.addBoutique('Nom\u0007bip'));
    await same((s) => s.catalogue.addBoutique('X', 'CDF', null, { fuseau: 'Mars/Olympus' }));
    await same((s) => s.catalogue.addBoutique('X', 'CDF', null, { stock_negatif: 'peut-etre' }));
    await same((s) => s.catalogue.setBoutique(5, { nom: ' Gombe centre ', devise: 'USD' }));
    await same((s) => s.catalogue.setBoutique(5, { nom: 'Gombe centre' }));
    await same((s) => s.catalogue.setBoutique(5, { devise: '' }));
    await same((s) => s.catalogue.setBoutique(5, { stock_negatif: 'autoriser' }));
    await same((s) => s.catalogue.setBoutique(99, { nom: 'x' }));
    await same((s) => s.catalogue.getBoutique(99));
    await same((s) => s.catalogue.findBoutique(99));
    await same((s) => s.catalogue.listBoutiques());
    await same((s) => s.catalogue.isEmpty());
  });

  it('an explicit id does not stop the next boutique or article made without one (the id after the highest, as SQLite)', async () => {
    await same((s) => s.catalogue.addBoutique('A', 'CDF', 40));
    const next = await same((s) => s.catalogue.addBoutique('B'));
    expect(next).toMatchObject({ ok: { id: 41 } });
    await same((s) => s.catalogue.addArticle({ id: 300, boutique_id: 40, nom: 'Sucre', prix_vente: 150_000, stock: 3 }, NOW));
    expect(await same((s) => s.catalogue.addArticle({ boutique_id: 41, nom: 'Sel', prix_vente: 50_000, stock: 0 }, NOW))).toMatchObject({ ok: { id: 301 } });
  });

  it('terminals: added, listed, disabled, refused with the same words; a secret issued once, rotated on demand', async () => {
    await same((s) => s.catalogue.addBoutique('Boutique Gombe', 'CDF', 1));
    await same((s) => s.catalogue.addTerminal('caisse-01', '  Caisse 1 ', 1));
    await same((s) => s.catalogue.addTerminal('caisse-01', 'Caisse 1', 1));
    await same((s) => s.catalogue.addTerminal('caisse-02', 'Caisse 2', 7));
    await same((s) => s.catalogue.addTerminal('a b', 'Caisse', 1));
    await same((s) => s.catalogue.addTerminal('caisse-03', '', 1));
    await same((s) => s.catalogue.setTerminalActif('caisse-01', false));
    await same((s) => s.catalogue.setTerminalActif('caisse-01', false));
    await same((s) => s.catalogue.setTerminalActif('absent', true));
    await same((s) => s.catalogue.findActiveTerminal('caisse-01'));
    await same((s) => s.catalogue.setTerminalActif('caisse-01', true));
    await same((s) => s.catalogue.issueTerminalSecret('caisse-01', false));
    await same((s) => s.catalogue.issueTerminalSecret('caisse-01', false));
    await same((s) => s.catalogue.issueTerminalSecret('caisse-01', true));
    await same((s) => s.catalogue.issueTerminalSecret('absent', true));
    await same((s) => s.catalogue.findActiveTerminal('caisse-01'));
    await same((s) => s.catalogue.getTerminal('caisse-01'));
    await same((s) => s.catalogue.getTerminal('absent'));
    await same((s) => s.catalogue.listTerminaux());
  });

  it('articles and stock: each change leaves its movement; a count below zero, a bad quantity, an unknown article are refused alike', async () => {
    await same((s) => s.catalogue.addBoutique('Boutique Gombe', 'CDF', 1));
    await same((s) => s.catalogue.addArticle({ id: 10, boutique_id: 1, nom: 'Riz 25 kg', prix_vente: 4_500_000, stock: 12 }, NOW));
    await same((s) => s.catalogue.addArticle({ id: 10, boutique_id: 1, nom: 'Riz', prix_vente: 1, stock: 0 }, NOW));
    await same((s) => s.catalogue.addArticle({ boutique_id: 1, nom: ' ', prix_vente: 1, stock: 0 }, NOW));
    await same((s) => s.catalogue.addArticle({ boutique_id: 9, nom: 'Huile', prix_vente: 1, stock: 0 }, NOW));
    await same((s) => s.catalogue.addArticle({ boutique_id: 1, nom: 'Huile', prix_vente: 1, stock: -2 }, NOW));
    await same((s) => s.catalogue.addArticle({ boutique_id: 1, nom: 'Huile 1 L', prix_vente: 320_000, stock: 0 }, NOW));
    await same((s) => s.catalogue.addStock(10, 5, NOW));
    await same((s) => s.catalogue.addStock(10, 0, NOW));
    await same((s) => s.catalogue.addStock(10, 1.5, NOW, 'bon 42'));
    await same((s) => s.catalogue.addStock(404, 1, NOW));
    await same((s) => s.catalogue.setStock(10, 3, NOW));
    await same((s) => s.catalogue.setStock(10, -1, NOW));
    await same((s) => s.catalogue.setStock(10, 3, NOW, null));
    await same((s) => s.catalogue.getArticle(10));
    await same((s) => s.catalogue.getArticle(404));
    await same((s) => s.catalogue.listArticles());
    await same((s) => s.catalogue.listArticles(1));
    await same((s) => s.catalogue.listArticles(2));
    await same((s) => s.catalogue.listMouvements(null, 50));
    await same((s) => s.catalogue.listMouvements(10, 2));
  });

  it('relays: added, listed with their reports, rotated, disabled; refused alike', async () => {
    await same((s) => s.catalogue.addBoutique('Boutique Gombe', 'CDF', 1));
    await same((s) => s.catalogue.addBoutique('Boutique Limete', 'CDF', 2));
    await same((s) => s.catalogue.addTerminal('caisse-01', 'Caisse 1', 1));
    await same((s) => s.relays.add('  Relais Gombe ', [2, 1]));
    await same((s) => s.relays.add('', [1]));
    await same((s) => s.relays.add('Relais', []));
    await same((s) => s.relays.add('Relais', [1, 8]));
    await same((s) => s.relays.findActive(1).then((r) => r && { ...r, boutiques: [...r.boutiques] }));
    await same((s) => s.relays.terminalsOf(1));
    await same((s) => s.relays.terminalsVersion(1, false));
    await same((s) => s.relays.terminalsVersion(1, true));
    await same((s) => s.relays.saveReport(1, { version: '0.1.0', ventes: { en_attente: 2, rejetees: 1, abandonnees: 0, synchronisees: 9 }, attente_plus_ancienne_s: 4000, dernier_succes: null, derniere_reconciliation: null }, NOW));
    await same((s) => s.relays.overview(new Date(NOW.getTime() + 60_000)));
    await same((s) => s.relays.overview(new Date(NOW.getTime() + 3_600_000)));
    await same((s) => s.relays.rotate(1).then((r) => r.id));
    await same((s) => s.relays.rotate(5));
    await same((s) => s.relays.disable(1));
    await same((s) => s.relays.disable(1));
    await same((s) => s.relays.disable(5));
    await same((s) => s.relays.findActive(1));
  });

  it('a fixture import: every problem listed at once, and the same counts when it passes', async () => {
    await same((s) => s.catalogue.addBoutique('Boutique Gombe', 'CDF', 1));
    await same((s) => s.catalogue.addArticle({ id: 10, boutique_id: 1, nom: 'Riz', prix_vente: 100, stock: 1 }, NOW));
    const bad = {
      boutiques: [{ id: 2, nom: 'Limete', devise: 'CDF' }, { id: 2, nom: 'Limete bis', devise: 'CDF' }],
      terminaux: [{ serial: 'caisse-09', nom: 'Caisse', boutique_id: 9, actif: true }],
      articles: [{ id: 10, boutique_id: 2, nom: 'Riz', prix_vente: '1.00', stock: 1 }, { id: 'x' }],
    };
    await same((s) => s.importFixture(bad, NOW));
    const good = {
      boutiques: [{ id: 1, nom: 'Gombe', devise: 'CDF', fuseau: 'Africa/Kinshasa' }, { id: 2, nom: 'Limete', devise: 'CDF' }],
      terminaux: [{ serial: 'caisse-02', nom: 'Caisse 2', boutique_id: 2, actif: true }],
      articles: [
        { id: 10, boutique_id: 1, nom: 'Riz 25 kg', prix_vente: '45000.00', stock: 4 },
        { id: 11, boutique_id: 2, nom: 'Sel', prix_vente: '500.00', stock: 0 },
      ],
    };
    await same((s) => s.importFixture(good, NOW));
    await same((s) => s.catalogue.listBoutiques());
    await same((s) => s.catalogue.listArticles());
    await same((s) => s.catalogue.listMouvements(null, 10));
  });

  it('an audited change keeps its audit row; a refused one keeps neither; the list reads the same', async () => {
    const source = { utilisateur: 'gerant', commande: 'ventesync-server boutique add Gombe' };
    await same((s) => s.audited(source, (tx) => tx.catalogue.addBoutique('Gombe', 'CDF', 1), (b) => `boutique ${b.id} ajoutée`));
    await same((s) =>
      s.audited(
        source,
        async (tx) => {
          await tx.catalogue.addArticle({ id: 3, boutique_id: 1, nom: 'Riz', prix_vente: 100, stock: 2 }, NOW);
          return tx.catalogue.setStock(3, -5, NOW);
        },
        () => 'stock changé',
      ),
    );
    await same((s) => s.catalogue.getArticle(3));
    await same((s) => s.audit.list({ depuis: null, limit: 10 }).then((rows) => rows.map(({ le: _le, ...row }) => row)));
  });
});

describe.skipIf(!pgSuiteEnabled())('the catalogue on PostgreSQL with several server instances', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('deliveries and counts from two instances at once: every movement’s before and after are true, none lost', async () => {
    const url = await cluster.createDatabase();
    const [a, b] = [await createPgStorage(url), await createPgStorage(url)];
    try {
      await a.catalogue.addBoutique('Gombe', 'CDF', 1);
      await a.catalogue.addArticle({ id: 1, boutique_id: 1, nom: 'Riz', prix_vente: 100, stock: 0 }, NOW);
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).catalogue.addStock(1, 1, NOW)));
      expect((await a.catalogue.getArticle(1))!.quantite_stock).toBe(20);
      const moves = (await b.catalogue.listMouvements(1, 100)).reverse();
      // A chain: each movement starts where the one before ended.
      expect(moves.map((m) => [m.stock_avant, m.stock_apres])).toEqual(Array.from({ length: 20 }, (_, i) => [i, i + 1]));
      await Promise.all([a.catalogue.setStock(1, 7, NOW), b.catalogue.addStock(1, 3, NOW)]);
      const [last, before] = await a.catalogue.listMouvements(1, 2);
      expect(last!.stock_avant).toBe(before!.stock_apres);
      expect((await a.catalogue.getArticle(1))!.quantite_stock).toBe(last!.stock_apres);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a count while a sale holds the article: the count waits, and the stock is what was counted', async () => {
    const url = await cluster.createDatabase();
    const storage = await createPgStorage(url);
    const { pool } = await openPgPool(url);
    const sale = await pool.connect();
    try {
      await storage.catalogue.addBoutique('Gombe', 'CDF', 1);
      await storage.catalogue.addArticle({ id: 1, boutique_id: 1, nom: 'Riz', prix_vente: 100, stock: 20 }, NOW);
      // Another instance's sale: it locks the article, as the write path does, and takes 3.
      await sale.query('BEGIN');
      await sale.query('SELECT quantite_stock FROM articles WHERE id = 1 FOR UPDATE');
      const count = storage.catalogue.setStock(1, 7, NOW);
      const deadline = Date.now() + 10_000;
      let waiting = 0;
      while (waiting === 0 && Date.now() < deadline) {
        waiting = (await pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")).rows[0].n;
      }
      expect(waiting).toBe(1);
      await sale.query('UPDATE articles SET quantite_stock = quantite_stock - 3 WHERE id = 1');
      await sale.query('COMMIT');
      // Computed from the stock under the lock (17), not from the 20 seen before the sale.
      expect(await count).toMatchObject({ type: 'AJUSTEMENT', stock_avant: 17, stock_apres: 7, quantite: -10 });
      expect((await storage.catalogue.getArticle(1))!.quantite_stock).toBe(7);
    } finally {
      sale.release();
      await storage.close();
      await pool.end();
    }
  });

  it('an import refused while writing, inside a transaction that goes on: nothing of the import stays, the rest commits', async () => {
    const url = await cluster.createDatabase();
    const storage = await createPgStorage(url);
    const { pool, where } = await openPgPool(url);
    try {
      await storage.catalogue.addBoutique('Gombe', 'CDF', 1);
      const fixture = {
        boutiques: [{ id: 2, nom: 'Limete', devise: 'CDF' }],
        articles: [{ id: 20, boutique_id: 2, nom: 'Sel', prix_vente: '5.00', stock: 1 }],
      };
      // What changed between the checks and the write (another instance took article 20 for
      // boutique 1), played by a catalogue whose article write refuses.
      const refusing = (tx: PgRunner) => ({
        ...createPgCatalogue(tx),
        upsertArticle: async () => {
          throw articleElsewhere(20, 1, 2);
        },
      });
      const outcome = await withTransaction(pool, where, async (client) => {
        const tx = clientRunner(client, where);
        const result = await importPgFixture(tx, fixture, NOW, refusing);
        await createPgCatalogue(tx).addBoutique('Masina', 'CDF', 3);
        return result;
      });
      expect(outcome).toEqual({
        ok: false,
        erreur: "articles[0] : l'article 20 appartient déjà à la boutique 1, pas à 2",
        problemes: ["articles[0] : l'article 20 appartient déjà à la boutique 1, pas à 2"],
      });
      expect((await storage.catalogue.listBoutiques()).map((b) => b.id)).toEqual([1, 3]);
    } finally {
      await storage.close();
      await pool.end();
    }
  });

  it('a terminal changed by another instance (a CLI) changes the relay’s terminal version at once', async () => {
    const url = await cluster.createDatabase();
    const [server, cli] = [await createPgStorage(url), await createPgStorage(url)];
    try {
      await cli.catalogue.addBoutique('Gombe', 'CDF', 1);
      await cli.catalogue.addTerminal('caisse-01', 'Caisse 1', 1);
      const { id } = await cli.relays.add('Relais', [1]);
      const before = await server.relays.terminalsVersion(id, false);
      expect(await server.relays.terminalsVersion(id, false)).toBe(before);
      await cli.catalogue.issueTerminalSecret('caisse-01', false);
      const after = await server.relays.terminalsVersion(id, false);
      expect(after).not.toBe(before);
      expect(await server.relays.terminalsVersion(id, true)).not.toBe(after);
    } finally {
      await server.close();
      await cli.close();
    }
  });

  it('a signature accepted by one instance is a replay on the other; old ones are pruned', async () => {
    const url = await cluster.createDatabase();
    const [a, b] = [await createPgStorage(url), await createPgStorage(url)];
    const { pool } = await openPgPool(url);
    try {
      const now = 1_800_000_000;
      const signature = { t: now, v1: 'ab'.repeat(32) };
      expect(await a.signatures.accept(signature, now)).toBe(true);
      expect(await b.signatures.accept(signature, now)).toBe(false);
      expect(await a.signatures.accept({ t: now, v1: 'cd'.repeat(32) }, now)).toBe(true);
      // Ten minutes on: the window (300 s) and its margin (120 s) have passed; the next accept prunes.
      expect(await b.signatures.accept({ t: now + 600, v1: 'ef'.repeat(32) }, now + 600)).toBe(true);
      expect((await pool.query('SELECT t::int AS t FROM signatures_vues ORDER BY t')).rows).toEqual([{ t: now + 600 }]);
    } finally {
      await a.close();
      await b.close();
      await pool.end();
    }
  });

  it('a new zone rebuilds the boutique’s daily totals from its sales, on their new local days', async () => {
    const url = await cluster.createDatabase();
    const storage = await createPgStorage(url);
    const { pool } = await openPgPool(url);
    try {
      await storage.catalogue.addBoutique('Gombe', 'CDF', 1);
      await storage.catalogue.addTerminal('caisse-01', 'Caisse 1', 1);
      await sale(pool, 'F-1', '2026-11-24T23:30:00.000Z', 'CASH', 1_000);
      await sale(pool, 'F-2', '2026-11-25T08:00:00.000Z', 'CASH', 2_500);
      await sale(pool, 'F-3', '2026-11-25T09:00:00.000Z', 'CARTE', 700);
      const changed = await storage.catalogue.setBoutique(1, { fuseau: 'Africa/Kinshasa' });
      expect(changed).toMatchObject({ fuseau: 'Africa/Kinshasa', totauxRecalcules: true, changed: true });
      // 23:30 UTC is 00:30 on the 25th in Kinshasa (UTC+1): all three sales on the 25th.
      expect((await pool.query('SELECT jour, mode_paiement, nombre_ventes::int AS n, montant_total::text AS m FROM chiffres_jour ORDER BY jour, mode_paiement')).rows).toEqual([
        { jour: '2026-11-25', mode_paiement: 'CARTE', n: 1, m: '700' },
        { jour: '2026-11-25', mode_paiement: 'CASH', n: 2, m: '3500' },
      ]);
      expect(await storage.catalogue.setBoutique(1, { nom: 'Gombe centre' })).toMatchObject({ totauxRecalcules: false });
    } finally {
      await storage.close();
      await pool.end();
    }
  });

  it('a change of zone that would put more than a day’s bound in one day is refused, and nothing changes', async () => {
    const url = await cluster.createDatabase();
    const storage = await createPgStorage(url);
    const { pool } = await openPgPool(url);
    try {
      await storage.catalogue.addBoutique('Gombe', 'CDF', 1);
      await storage.catalogue.addTerminal('caisse-01', 'Caisse 1', 1);
      const big = 2n ** 62n;
      await sale(pool, 'F-1', '2026-11-24T23:30:00.000Z', 'CASH', big);
      await sale(pool, 'F-2', '2026-11-25T08:00:00.000Z', 'CASH', big);
      await pool.query("INSERT INTO chiffres_jour VALUES (1, '2026-11-24', 'CASH', 1, $1), (1, '2026-11-25', 'CASH', 1, $1)", [big.toString()]);
      const refusal = await storage.catalogue.setBoutique(1, { fuseau: 'Africa/Kinshasa' }).catch((e: unknown) => e);
      expect(refusal).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/^Fuseau Africa\/Kinshasa refusé : le total du jour 2026-11-25 \(CASH\)/) });
      expect((await storage.catalogue.getBoutique(1)).fuseau).toBe('UTC');
      expect((await pool.query('SELECT count(*)::int AS n FROM chiffres_jour')).rows[0].n).toBe(2);
    } finally {
      await storage.close();
      await pool.end();
    }
  });
});

/** A sale row as the write path stores it (its lines do not matter to the daily totals). */
async function sale(pool: pg.Pool, numero: string, date: string, mode: string, montant: number | bigint): Promise<void> {
  await pool.query(
    `INSERT INTO ventes (boutique_id, numero_facture, terminal_serial, date_vente, date_reception, mode_paiement, paye, montant_total, empreinte)
     VALUES (1, $1, 'caisse-01', $2, $2, $3, 1, $4, 'e')`,
    [numero, date, mode, String(montant)],
  );
}

