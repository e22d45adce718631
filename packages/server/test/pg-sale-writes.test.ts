import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createCatalogueStore, type TerminalContext } from '../src/catalogue-store.js';
import type { Db } from '../src/db/open-database.js';
import { BOUTIQUE_LOCK_SPACE, boutiqueLockKey, MAX_WRITE_ATTEMPTS, RetryRequest, runWriteTransaction } from '../src/postgres/pg-boutique-tx.js';
import { createPgWrites } from '../src/postgres/pg-writes.js';
import { MAX_CHIFFRES_JOUR_CENTIMES } from '../src/sale-rules.js';
import { createSaleWriter } from '../src/sale-writer.js';
import type { WriteSalesOptions } from '../src/sale-rules.js';
import { OTHER_SERIAL, openTestDb, SERIAL } from './helpers.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';
import { openPgTestDb, pgRows, pgTerminal, pgValue, waitFor, withPgSession } from './pg-fixture.js';

const at = new Date('2025-10-29T02:45:00Z');
const enabled = pgSuiteEnabled();

describe.skipIf(!enabled)('PostgreSQL sales writes', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  let pool: pg.Pool;
  let where: string;
  let url: string;
  let db: Db;
  let terminal: TerminalContext;
  let pgTerm: TerminalContext;
  let writes: ReturnType<typeof createPgWrites>;
  beforeEach(async () => {
    ({ pool, where, url } = await openPgTestDb(cluster));
    db = openTestDb();
    terminal = createCatalogueStore(db).findActiveTerminal(SERIAL)!;
    pgTerm = await pgTerminal(pool, SERIAL);
    writes = createPgWrites(pool, where);
  });
  afterEach(async () => {
    db.close();
    await pool.end();
  });

  const sqliteWriter = () => createSaleWriter(db);
  let sqlite: ReturnType<typeof createSaleWriter> | undefined;
  afterEach(() => {
    sqlite = undefined;
  });

  /** The same request on both backends: PostgreSQL's answer, checked equal to SQLite's (the contract). */
  async function both(items: unknown[], options: WriteSalesOptions = {}, receivedAt = at, serial = SERIAL) {
    sqlite ??= sqliteWriter();
    const writer = sqlite;
    const sqliteTerminal = serial === SERIAL ? terminal : createCatalogueStore(db).findActiveTerminal(serial)!;
    const expected = db.transaction(() => writer.writeSalesInSavepoint(sqliteTerminal, items, receivedAt, options)).immediate();
    const pgTerminalNow = serial === SERIAL ? pgTerm : await pgTerminal(pool, serial);
    const actual = await writes.sales(pgTerminalNow, items, receivedAt, options, 100)!;
    expect(actual).toEqual(expected);
    return actual;
  }

  const stock = (id: number) => pgValue<string>(pool, 'SELECT quantite_stock::text FROM articles WHERE id = $1', [id]).then(Number);
  const count = (table: string) => pgValue<number>(pool, `SELECT count(*)::int FROM ${table}`);

  it('writes each sale whole: the sale, its lines, one SORTIE per line, the stock and the day totals, as SQLite', async () => {
    const result = await both([{ numero_facture: 'W-1', lignes: [{ article_id: 6 }, { article_id: 7, quantite: 2 }] }]);
    expect(result.creees[0]).toMatchObject({ numero_facture: 'W-1', montant_total: '90000.00' });
    expect([await count('ventes'), await count('lignes_vente'), await count("mouvements_stock WHERE type = 'SORTIE'")]).toEqual([1, 2, 2]);
    expect([await stock(6), await stock(7)]).toEqual([99, 98]);
    expect(await pgRows(pool, 'SELECT jour, mode_paiement, nombre_ventes::int AS n, montant_total::text AS m FROM chiffres_jour')).toEqual([
      { jour: '2025-10-29', mode_paiement: 'CASH', n: 1, m: '9000000' },
    ]);
    expect(await pgRows(pool, 'SELECT article_id::int AS a, stock_avant::int AS avant, stock_apres::int AS apres, reference, date FROM mouvements_stock ORDER BY id')).toEqual([
      { a: 6, avant: 100, apres: 99, reference: 'W-1', date: at.toISOString() },
      { a: 7, avant: 100, apres: 98, reference: 'W-1', date: at.toISOString() },
    ]);
  });

  it('a sale short on its second line leaves no trace of its first; the next sale of the batch is written', async () => {
    const result = await both([
      { numero_facture: 'W-1', lignes: [{ article_id: 6, quantite: 2 }, { article_id: 10, quantite: 9 }] },
      { numero_facture: 'W-2', lignes: [{ article_id: 6 }] },
    ]);
    expect(result.erreurs).toEqual([{ index: 1, numero_facture: 'W-1', code: 'INSUFFICIENT_STOCK', erreur: 'Stock insuffisant pour Chargeur : demandé 9, disponible 2' }]);
    expect([await count('ventes'), await count('lignes_vente'), await count('mouvements_stock')]).toEqual([1, 1, 1]);
    expect([await stock(6), await stock(10)]).toEqual([99, 2]);
  });

  it('duplicates: in the batch, stored, resent by the same till (identique) or another; invalid and unknown articles refused', async () => {
    await both([{ numero_facture: 'D-1', lignes: [{ article_id: 6 }] }]);
    const result = await both([
      { numero_facture: 'D-1', lignes: [{ article_id: 6 }] },
      { numero_facture: 'D-1', lignes: [{ article_id: 7 }] },
      { numero_facture: 'D-2', lignes: [{ article_id: 8 }] },
      { numero_facture: 'D-3', lignes: [] },
      { numero_facture: 'D-3', lignes: [{ article_id: 6 }] },
      'pas une vente',
    ]);
    expect(result.erreurs.map((e) => [e.index, e.code, 'identique' in e ? e.identique : null])).toEqual([
      [1, 'DUPLICATE', true],
      [2, 'DUPLICATE', false],
      [3, 'ARTICLE_NOT_FOUND', null],
      [4, 'INVALID_SALE', null],
      [5, 'DUPLICATE', false],
      [6, 'INVALID_SALE', null],
    ]);
    const other = await both([{ numero_facture: 'D-1', lignes: [{ article_id: 8 }] }], {}, at, OTHER_SERIAL);
    expect(other.creees.map((v) => v.numero_facture)).toEqual(['D-1']);
    expect(await count('ventes')).toBe(2);
  });

  it('generated numeros are those SQLite gives, suffixed within a second, and never collide with a stored one', async () => {
    await both([{ numero_facture: 'VENTE-2-20251029024500-1', lignes: [{ article_id: 6 }] }]);
    const first = await both([{ lignes: [{ article_id: 6 }] }, { lignes: [{ article_id: 7 }] }, { numero_facture: null, lignes: [{ article_id: 7 }] }]);
    expect(first.creees.map((v) => v.numero_facture)).toEqual(['VENTE-2-20251029024500-0', 'VENTE-2-20251029024500-1-1', 'VENTE-2-20251029024500-2']);
    const second = await both([{ lignes: [{ article_id: 6 }] }, { lignes: [{ article_id: 6 }] }]);
    expect(second.creees.map((v) => v.numero_facture)).toEqual(['VENTE-2-20251029024500-0-1', 'VENTE-2-20251029024500-1-2']);
  });

  it('a till clock more than ten minutes ahead: stored at reception, its date kept, the day that of reception', async () => {
    const ahead = '2025-10-30T09:00:00.000Z';
    const result = await both([
      { numero_facture: 'H-1', date_vente: ahead, lignes: [{ article_id: 6 }] },
      { numero_facture: 'H-2', date_vente: '2025-10-29T02:50:00Z', lignes: [{ article_id: 6 }] },
    ]);
    expect(result.datesRemplacees).toEqual([{ numero_facture: 'H-1', date_vente_caisse: ahead, date_vente: at.toISOString() }]);
    expect(await pgRows(pool, 'SELECT numero_facture, date_vente, date_vente_caisse FROM ventes ORDER BY id')).toEqual([
      { numero_facture: 'H-1', date_vente: at.toISOString(), date_vente_caisse: ahead },
      { numero_facture: 'H-2', date_vente: '2025-10-29T02:50:00.000Z', date_vente_caisse: null },
    ]);
    // Resent as it was: recognised (the fingerprint keeps the till's date).
    const again = await both([{ numero_facture: 'H-1', date_vente: ahead, lignes: [{ article_id: 6 }] }]);
    expect(again.erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: true });
  });

  it('a boutique in another zone files its sales under its local day', async () => {
    db.prepare("UPDATE boutiques SET fuseau = 'Africa/Kinshasa' WHERE id = 2").run();
    await pool.query("UPDATE boutiques SET fuseau = 'Africa/Kinshasa' WHERE id = 2");
    await both([{ numero_facture: 'K-1', date_vente: '2025-10-28T23:30:00Z', lignes: [{ article_id: 6 }] }]);
    expect(await pgValue(pool, 'SELECT jour FROM chiffres_jour')).toBe('2025-10-29');
  });

  it('via a relay (or stock_negatif autoriser) a short stock goes below zero, with the shortfall told', async () => {
    const result = await both(
      [{ numero_facture: 'N-1', lignes: [{ article_id: 10, quantite: 2 }, { article_id: 10, quantite: 3 }] }],
      { viaRelay: true },
    );
    expect(result.creees[0]!.avertissements).toEqual([{ code: 'STOCK_NEGATIF', article_id: 10, manque: 3 }]);
    expect(await stock(10)).toBe(-3);
    db.prepare("UPDATE boutiques SET stock_negatif = 'autoriser' WHERE id = 2").run();
    await pool.query("UPDATE boutiques SET stock_negatif = 'autoriser' WHERE id = 2");
    const next = await both([{ numero_facture: 'N-2', lignes: [{ article_id: 10 }] }]);
    expect(next.creees[0]!.avertissements).toEqual([{ code: 'STOCK_NEGATIF', article_id: 10, manque: 1 }]);
    expect(await pgRows(pool, 'SELECT stock_avant::int AS avant, stock_apres::int AS apres FROM mouvements_stock ORDER BY id')).toEqual([
      { avant: 2, apres: 0 },
      { avant: 0, apres: -3 },
      { avant: -3, apres: -4 },
    ]);
  });

  it('a day total that would pass 2^63 - 1 centimes refuses the sale (INVALID_SALE), the others are written', async () => {
    const near = (MAX_CHIFFRES_JOUR_CENTIMES - 3_000_000n).toString();
    db.prepare("INSERT INTO chiffres_jour VALUES (2, '2025-10-29', 'CASH', 1, ?)").run(BigInt(near));
    await pool.query("INSERT INTO chiffres_jour VALUES (2, '2025-10-29', 'CASH', 1, $1)", [near]);
    const result = await both([
      { numero_facture: 'B-1', lignes: [{ article_id: 9 }] },
      { numero_facture: 'B-2', lignes: [{ article_id: 6 }] },
      { numero_facture: 'B-3', mode_paiement: 'CARTE', lignes: [{ article_id: 6 }] },
    ]);
    expect(result.erreurs.map((e) => [e.numero_facture, e.code])).toEqual([['B-2', 'INVALID_SALE']]);
    expect(await pgValue(pool, "SELECT montant_total::text FROM chiffres_jour WHERE mode_paiement = 'CASH'")).toBe((BigInt(near) + 1999n).toString());
    expect(writes.stats().retries).toBe(1);
  });

  it('a full queue turns the request away (null) and counts it; the stats count commits and sales', async () => {
    const w = createPgWrites(pool, where, { maxConcurrent: 1, maxQueuedRequests: 1 });
    const a = w.sales(pgTerm, [{ numero_facture: 'Q-1', lignes: [{ article_id: 6 }] }], at, {}, 10);
    const b = w.sales(pgTerm, [{ numero_facture: 'Q-2', lignes: [{ article_id: 6 }] }], at, {}, 10);
    const c = w.sales(pgTerm, [{ numero_facture: 'Q-3', lignes: [{ article_id: 6 }] }], at, {}, 10);
    expect([a === null, b === null, c === null]).toEqual([false, false, true]);
    await Promise.all([a, b]);
    expect(w.stats()).toMatchObject({ commits: 2, requests: 2, salesWritten: 2, refused: 1, failedGroups: 0 });
    expect(await count('ventes')).toBe(2);
  });

  it('requests of one boutique waiting together are written in one transaction, each answered as SQLite one after the other', async () => {
    const requests = [
      [{ numero_facture: 'G-1', lignes: [{ article_id: 10, quantite: 1 }] }],
      [{ numero_facture: 'G-1', lignes: [{ article_id: 10, quantite: 1 }] }, { numero_facture: 'G-2', lignes: [{ article_id: 10 }] }],
      [{ lignes: [{ article_id: 10 }] }, { numero_facture: 'G-3', lignes: [{ article_id: 6 }] }],
      [{ lignes: [{ article_id: 7 }] }, { numero_facture: 'G-2', lignes: [{ article_id: 10 }] }],
    ];
    sqlite ??= sqliteWriter();
    const writer = sqlite;
    const expected = requests.map((items) => db.transaction(() => writer.writeSalesInSavepoint(terminal, items, at)).immediate());
    const actual = await Promise.all(requests.map((items) => writes.sales(pgTerm, items, at, {}, 10)!));
    expect(actual).toEqual(expected);
    expect(actual[2]!.erreurs).toMatchObject([{ code: 'INSUFFICIENT_STOCK' }]);
    // The first request alone (nothing waited before it), the three others together.
    expect(writes.stats()).toMatchObject({ commits: 2, requests: 4, maxGroupRequests: 3 });
    expect([await stock(10), await count('ventes')]).toEqual([0, 4]);
  });

  /** Backends of this test's database waiting on a lock of `kind` ('advisory', 'transactionid'…). */
  const waitingOn = (kind: string) =>
    pgValue<number>(pool, "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = $1", [
      kind,
    ]);
  const boutiqueLock = () => `SELECT pg_advisory_xact_lock(${BOUTIQUE_LOCK_SPACE}, ${boutiqueLockKey(pgTerm.boutique_id)})`;

  it('the database gone mid-request: the request fails whole with the 503 error, nothing written, the next one works', async () => {
    // Another session holds the boutique's lock: the write waits inside its transaction.
    await withPgSession(pool, async (holder) => {
      await holder.query('BEGIN');
      await holder.query(boutiqueLock());
      // Its failure caught at once: it may come before the terminating query's own answer, and a
      // rejection left unheard meanwhile is reported by vitest as an unhandled error.
      const pending = writes.sales(pgTerm, [{ numero_facture: 'G-1', lignes: [{ article_id: 6 }] }], at, {}, 0)!.then(
        () => null,
        (error: unknown) => error,
      );
      await waitFor('la vente attend le verrou de la boutique', async () => (await waitingOn('advisory')) === 1);
      // Asked on another connection: inside the holder's transaction the view keeps its first snapshot.
      const pid = await pgValue<number>(
        pool,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
      );
      await holder.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(await pending).toMatchObject({ ventesyncCode: 'DATABASE_FAILING', retryAfterSeconds: 2 });
      await holder.query('COMMIT');
    });
    expect(await count('ventes')).toBe(0);
    const again = await writes.sales(pgTerm, [{ numero_facture: 'G-1', lignes: [{ article_id: 6 }] }], at, {}, 0)!;
    expect(again.creees.map((v) => v.numero_facture)).toEqual(['G-1']);
    expect(await stock(6)).toBe(99);
  });

  it('a deadlock with another session (40P01) rolls the request back and runs it again: answered once, written once', async () => {
    // The cycle is closed by the write's own wait, and the other session never runs the deadlock
    // check in time (deadlock_timeout 1 min): PostgreSQL rolls back the write, whatever the load.
    // (Closed by the other session instead, whichever check fired first picked the victim: under
    // load the other session, whose failure left its connection open and the test file hanging.)
    await withPgSession(pool, async (holder) => {
      await withPgSession(pool, async (other) => {
        await holder.query('BEGIN');
        await holder.query(boutiqueLock());
        // The write waits for the boutique lock, holding nothing yet.
        const pending = writes.sales(pgTerm, [{ numero_facture: 'DL-1', lignes: [{ article_id: 6 }, { article_id: 7 }] }], at, {}, 0)!;
        await waitFor('la vente attend le verrou de la boutique', async () => (await waitingOn('advisory')) === 1);
        // The other session takes article 7, then queues for the boutique lock behind the write.
        await other.query("BEGIN; SET LOCAL deadlock_timeout = '1min'; SELECT 1 FROM articles WHERE id = 7 FOR UPDATE");
        const otherLock = other.query(boutiqueLock());
        await waitFor("l'autre session attend elle aussi le verrou", async () => (await waitingOn('advisory')) === 2);
        // The write gets the boutique lock, takes article 6, waits for 7: the cycle; it is the victim.
        await holder.query('COMMIT');
        await otherLock;
        await other.query('COMMIT');
        const result = await pending;
        expect(result.creees.map((v) => v.numero_facture)).toEqual(['DL-1']);
      });
    });
    expect(writes.stats().retries).toBe(1);
    expect([await count('ventes'), await stock(6), await stock(7)]).toEqual([1, 99, 99]);
  });

  it('conflicts on every attempt: given up after MAX_WRITE_ATTEMPTS with a 503 error (Retry-After), nothing kept', async () => {
    let attempts = 0;
    const failing = runWriteTransaction(pool, where, () => {}, async (client) => {
      attempts++;
      await client.query("BEGIN; INSERT INTO chiffres_jour VALUES (2, '2000-01-01', 'CASH', 1, 1)");
      throw new RetryRequest('conflit simulé');
    });
    await expect(failing).rejects.toMatchObject({ ventesyncCode: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
    expect(attempts).toBe(MAX_WRITE_ATTEMPTS);
    expect(await count('chiffres_jour')).toBe(0);
  });

  describe('two server instances on one database', () => {
    let second: { pool: pg.Pool; writes: ReturnType<typeof createPgWrites> };
    beforeEach(() => {
      const otherPool = new pg.Pool({ connectionString: url, max: 10 });
      otherPool.on('error', () => {});
      second = { pool: otherPool, writes: createPgWrites(otherPool, where) };
    });
    afterEach(async () => {
      await second.pool.end();
    });

    it('the last units of an article, asked by both at once, round after round: never oversold', async () => {
      for (let round = 0; round < 10; round++) {
        await pool.query('UPDATE articles SET quantite_stock = 2 WHERE id = 10');
        const sale = (i: number) => [{ numero_facture: `L-${round}-${i}`, lignes: [{ article_id: 10, quantite: 2 }] }];
        const [a, b] = await Promise.all([writes.sales(pgTerm, sale(1), at, {}, 0)!, second.writes.sales(pgTerm, sale(2), at, {}, 0)!]);
        const created = a.creees.length + b.creees.length;
        expect(created).toBe(1);
        expect([...a.erreurs, ...b.erreurs].map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
        expect(await stock(10)).toBe(0);
      }
      expect(await count('ventes')).toBe(10);
    });

    it('one numero sent by both at once: exactly one sale created, the other answered DUPLICATE identique', async () => {
      for (let round = 0; round < 10; round++) {
        const sale = [{ numero_facture: `U-${round}`, lignes: [{ article_id: 6 }] }];
        const [a, b] = await Promise.all([writes.sales(pgTerm, sale, at, {}, 0)!, second.writes.sales(pgTerm, sale, at, {}, 0)!]);
        expect(a.creees.length + b.creees.length).toBe(1);
        expect([...a.erreurs, ...b.erreurs]).toMatchObject([{ code: 'DUPLICATE', identique: true }]);
      }
      expect([await count('ventes'), await stock(6)]).toEqual([10, 90]);
    });

    it('sales of one boutique from both, without numeros, in the same second: all created, numeros unique', async () => {
      const batch = Array.from({ length: 20 }, () => ({ lignes: [{ article_id: 9 }] }));
      const [a, b] = await Promise.all([writes.sales(pgTerm, batch, at, {}, 0)!, second.writes.sales(pgTerm, batch, at, {}, 0)!]);
      const numeros = [...a.creees, ...b.creees].map((v) => v.numero_facture);
      expect(numeros.length).toBe(40);
      expect(new Set(numeros).size).toBe(40);
      expect([await count('ventes'), await stock(9)]).toEqual([40, 60]);
    });
  });
});
