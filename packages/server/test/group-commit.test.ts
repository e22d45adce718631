import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCatalogueStore, type TerminalContext } from '../src/catalogue-store.js';
import type { Db } from '../src/db/open-database.js';
import { createGroupCommit, DEFAULT_GROUP_COMMIT_LIMITS, MAX_QUEUED_REQUESTS, type GroupCommitLimits } from '../src/group-commit.js';
import type { SalesOutcome } from '@ventesync/shared';
import { createSaleWriter, type SaleWriter } from '../src/sale-writer.js';
import { openTestDb, SECOND_SERIAL, SERIAL, tempDir, vente } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let file: string;
let db: Db;
let writer: SaleWriter;
let caisse1: TerminalContext;
let caisse2: TerminalContext;
const at = new Date('2025-10-29T02:45:00Z');

beforeEach(() => {
  tmp = tempDir();
  file = join(tmp.dir, 'group.db');
  db = openTestDb(file);
  writer = createSaleWriter(db);
  const catalogue = createCatalogueStore(db);
  caisse1 = catalogue.findActiveTerminal(SERIAL)!;
  caisse2 = catalogue.findActiveTerminal(SECOND_SERIAL)!;
});
afterEach(() => {
  db.close();
  tmp.cleanup();
});

const numeros = () => db.prepare('SELECT numero_facture FROM ventes ORDER BY id').pluck().all();
const stock = (id: number) => db.prepare('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(id) as number;
const sortie = (id: number) =>
  db.prepare("SELECT COALESCE(SUM(quantite), 0) FROM mouvements_stock WHERE article_id = ? AND type = 'SORTIE'").pluck().get(id) as number;

function groupCommit(limits: Partial<GroupCommitLimits> = {}) {
  return createGroupCommit(db, { ...DEFAULT_GROUP_COMMIT_LIMITS, ...limits });
}

/** One request's write, as the sync route hands it over. */
function sale(terminal: TerminalContext, items: unknown[]) {
  return [items.length, 100, () => writer.writeSalesInSavepoint(terminal, items, at), (o: SalesOutcome) => o.creees.length] as const;
}

describe('group commit', () => {
  it('requests that queue up together are written by one commit, each answered with its own outcome', async () => {
    const commit = groupCommit();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => commit.submit(...sale(caisse1, [vente(`G-${i}`, [{ article_id: 6 }])]))!),
    );
    expect(answers.map((a) => a.creees.map((v) => v.numero_facture))).toEqual(Array.from({ length: 8 }, (_, i) => [`G-${i}`]));
    expect(numeros()).toEqual(Array.from({ length: 8 }, (_, i) => `G-${i}`));
    expect(stock(6)).toBe(92);
    expect(commit.stats()).toMatchObject({ commits: 1, requests: 8, salesWritten: 8, maxGroupRequests: 8, maxGroupSales: 8, failedGroups: 0 });
  });

  it('a lone request is written on its own, and the next ones form the next group', async () => {
    const commit = groupCommit();
    await commit.submit(...sale(caisse1, [vente('SEUL', [{ article_id: 6 }])]));
    expect(numeros()).toEqual(['SEUL']);
    await Promise.all([1, 2].map((i) => commit.submit(...sale(caisse1, [vente(`APRES-${i}`, [{ article_id: 6 }])]))));
    expect(commit.stats()).toMatchObject({ commits: 2, requests: 3, maxGroupRequests: 2 });
  });

  it('a duplicate across two requests of one group is found exactly as between two requests in turn', async () => {
    const same = [vente('DUP-1', [{ article_id: 6, quantite: 2 }])];
    const commit = groupCommit();
    const [first, resent, otherTill] = await Promise.all([
      commit.submit(...sale(caisse1, same))!,
      commit.submit(...sale(caisse1, same))!,
      commit.submit(...sale(caisse2, same))!,
    ]);
    expect(commit.stats().commits).toBe(1);

    // The same three requests, each in its own transaction, on a second database.
    const seqDb = openTestDb(join(tmp.dir, 'sequential.db'));
    const seqWriter = createSaleWriter(seqDb);
    const sequential = [caisse1, caisse1, caisse2].map((t) =>
      seqDb.transaction(() => seqWriter.writeSalesInSavepoint(t, same, at)).immediate(),
    );
    seqDb.close();

    expect([first, resent, otherTill]).toEqual(sequential);
    expect(first!.creees).toHaveLength(1);
    expect(resent!.erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: true });
    expect(otherTill!.erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
    expect(numeros()).toEqual(['DUP-1']);
    expect(stock(6)).toBe(98);
  });

  it('a request that throws is undone alone: the others of its group are committed', async () => {
    const commit = groupCommit();
    const failing = commit.submit(1, 100, () => {
      writer.writeSalesInSavepoint(caisse1, [vente('PERDUE', [{ article_id: 6, quantite: 5 }])], at);
      throw new Error('panne inattendue');
    })!;
    const others = [1, 2].map((i) => commit.submit(...sale(caisse1, [vente(`OK-${i}`, [{ article_id: 6 }])]))!);
    await expect(failing).rejects.toThrow('panne inattendue');
    await Promise.all(others);
    expect(commit.stats()).toMatchObject({ commits: 1, maxGroupRequests: 3 });
    expect(numeros()).toEqual(['OK-1', 'OK-2']);
    expect(stock(6)).toBe(98);
    expect(sortie(6)).toBe(2);
    expect(db.inTransaction).toBe(false);
  });

  it('an error that ends the transaction fails every request of the group, and none writes outside it', async () => {
    const commit = groupCommit();
    let thirdRan = false;
    const first = commit.submit(...sale(caisse1, [vente('AVANT', [{ article_id: 6 }])]))!;
    // What SQLite does on a full disk in the middle of a statement: it rolls back on its own.
    const full = commit.submit(1, 100, () => {
      db.exec('ROLLBACK');
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    })!;
    const third = commit.submit(1, 100, () => {
      thirdRan = true;
      return writer.writeSalesInSavepoint(caisse1, [vente('APRES', [{ article_id: 6 }])], at);
    })!;
    for (const p of [first, full, third]) await expect(p).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    expect(thirdRan).toBe(false);
    expect(numeros()).toEqual([]);
    expect(stock(6)).toBe(100);
    expect(db.inTransaction).toBe(false);
    expect(commit.stats()).toMatchObject({ commits: 0, salesWritten: 0, failedGroups: 1 });
  });

  it('a write that ends the group’s transaction without throwing fails the whole group all the same', async () => {
    const commit = groupCommit();
    let laterRan = false;
    const first = commit.submit(...sale(caisse1, [vente('AVANT', [{ article_id: 6 }])]))!;
    const ending = commit.submit(1, 100, () => {
      db.exec('ROLLBACK');
      return 'fini';
    })!;
    const later = commit.submit(1, 100, () => (laterRan = true))!;
    for (const p of [first, ending, later]) await expect(p).rejects.toThrow();
    expect(laterRan).toBe(false);
    expect(numeros()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    expect(commit.stats()).toMatchObject({ commits: 0, failedGroups: 1 });
  });

  it('a COMMIT that fails rejects every request of the group, stores nothing, and the next group writes', async () => {
    const commit = groupCommit();
    const first = commit.submit(...sale(caisse1, [vente('AVANT-COMMIT', [{ article_id: 6 }])]))!;
    // A line pointing to no sale, its check deferred to COMMIT: the commit itself fails.
    const broken = commit.submit(1, 100, () => {
      db.pragma('defer_foreign_keys = ON');
      db.prepare('INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total) VALUES (999999, 6, 1, 1, 1)').run();
      return { creees: [], erreurs: [] } satisfies SalesOutcome;
    })!;
    const last = commit.submit(...sale(caisse1, [vente('APRES-COMMIT', [{ article_id: 6 }])]))!;
    for (const p of [first, broken, last]) await expect(p).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
    expect(db.inTransaction).toBe(false);
    expect(numeros()).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) FROM lignes_vente').pluck().get()).toBe(0);
    expect(stock(6)).toBe(100);
    expect(commit.stats()).toMatchObject({ commits: 0, salesWritten: 0, failedGroups: 1 });

    await expect(commit.submit(...sale(caisse1, [vente('ENSUITE', [{ article_id: 6 }])]))).resolves.toMatchObject({
      creees: [{ numero_facture: 'ENSUITE' }],
    });
    expect(numeros()).toEqual(['ENSUITE']);
    expect(commit.stats()).toMatchObject({ commits: 1, salesWritten: 1, failedGroups: 1 });
  });

  it('counts the sales written and the commits that wrote some: not duplicates, refused sales or requests that threw', async () => {
    const commit = groupCommit();
    await commit.submit(...sale(caisse1, [vente('C-1', [{ article_id: 6 }])]));
    const group = [
      // A resend, a refused sale and one written.
      commit.submit(...sale(caisse1, [vente('C-1', [{ article_id: 6 }]), vente('C-2', [{ article_id: 999 }]), vente('C-3', [{ article_id: 6 }])]))!,
      commit.submit(1, 100, () => {
        writer.writeSalesInSavepoint(caisse1, [vente('C-4', [{ article_id: 6 }])], at);
        throw new Error('panne inattendue');
      }, (o: SalesOutcome) => o.creees.length)!,
    ];
    await expect(group[1]).rejects.toThrow('panne inattendue');
    await group[0];
    // Only resends: the commit changes nothing, so it costs no fsync and is not counted.
    await commit.submit(...sale(caisse1, [vente('C-1', [{ article_id: 6 }]), vente('C-3', [{ article_id: 6 }])]));
    expect(numeros()).toEqual(['C-1', 'C-3']);
    expect(commit.stats()).toMatchObject({ commits: 2, requests: 3, salesWritten: 2, maxGroupSales: 1, maxGroupRequests: 2, failedGroups: 0 });
  });

  it('when another process holds the database, the whole group fails busy and writes nothing', async () => {
    db.pragma('busy_timeout = 50');
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    const commit = groupCommit();
    try {
      const group = [1, 2].map((i) => commit.submit(...sale(caisse1, [vente(`BUSY-${i}`, [{ article_id: 6 }])]))!);
      for (const p of group) await expect(p).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(db.inTransaction).toBe(false);
    expect(numeros()).toEqual([]);
    // Once the other process is done, the next group writes normally.
    await commit.submit(...sale(caisse1, [vente('ENSUITE', [{ article_id: 6 }])]));
    expect(numeros()).toEqual(['ENSUITE']);
  });

  it('a group stops at its bound in sales: the rest wait for the next commit', async () => {
    const commit = groupCommit({ maxGroupSales: 4 });
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        commit.submit(...sale(caisse1, [vente(`B-${i}-a`, [{ article_id: 6 }]), vente(`B-${i}-b`, [{ article_id: 6 }])])),
      ),
    );
    expect(commit.stats()).toMatchObject({ commits: 3, requests: 5, salesWritten: 10, maxGroupSales: 4, maxGroupRequests: 2 });
    expect(numeros()).toHaveLength(10);
  });

  it('a group stops at its bound in bytes, but always takes at least one request', async () => {
    const commit = groupCommit({ maxGroupBytes: 150 });
    const [sales, , write, written] = sale(caisse1, [vente('GROS', [{ article_id: 6 }])]);
    await Promise.all([1, 2, 3].map((i) => commit.submit(...sale(caisse1, [vente(`O-${i}`, [{ article_id: 6 }])]))));
    await commit.submit(sales, 10_000, write, written);
    expect(commit.stats()).toMatchObject({ commits: 4, maxGroupRequests: 1 });
    expect(numeros()).toHaveLength(4);
  });

  it('past the queue bound a request is turned away and nothing of it is queued', async () => {
    const commit = groupCommit({ maxQueuedRequests: 2 });
    const queued = [1, 2].map((i) => commit.submit(...sale(caisse1, [vente(`Q-${i}`, [{ article_id: 6 }])])));
    let ran = false;
    const refused = commit.submit(1, 100, () => (ran = true));
    expect(refused).toBeNull();
    await Promise.all(queued);
    expect(ran).toBe(false);
    expect(numeros()).toEqual(['Q-1', 'Q-2']);
    expect(commit.stats()).toMatchObject({ refused: 1, requests: 2 });
    // Once the queue has drained, requests are taken again.
    await expect(commit.submit(...sale(caisse1, [vente('Q-3', [{ article_id: 6 }])]))).resolves.toMatchObject({ creees: [{ numero_facture: 'Q-3' }] });
  });

  it('a burst of one-sale tills as large as the connection cap is all queued, none turned away', async () => {
    expect(MAX_QUEUED_REQUESTS).toBeGreaterThanOrEqual(4096);
    const commit = groupCommit();
    const all = Array.from({ length: 1_000 }, (_, i) => commit.submit(...sale(caisse1, [vente(`B-${i}`, [{ article_id: 6 }])])));
    expect(all.every((p) => p !== null)).toBe(true);
    await Promise.all(all);
    // Each was worked on and answered (the stock runs out after the first hundred: refused as sales, not as requests).
    expect(commit.stats()).toMatchObject({ refused: 0 });
    expect(numeros()).toHaveLength(100);
  });

  it('past the queued sales bound a request is turned away', async () => {
    const commit = groupCommit({ maxQueuedSales: 10 });
    const queued = commit.submit(8, 100, () => 'écrit');
    expect(commit.submit(3, 100, () => 'refusé')).toBeNull();
    expect(await queued).toBe('écrit');
  });

  it('past the queued bytes bound a request is turned away', async () => {
    const commit = groupCommit({ maxQueuedBytes: 1_000 });
    const queued = commit.submit(1, 900, () => 'écrit');
    expect(commit.submit(1, 200, () => 'refusé')).toBeNull();
    expect(await queued).toBe('écrit');
  });
});
