import { prepareDatabase } from '@ventesync/runtime/sqlite';
import { buildApp } from '@ventesync/server';
import { MIGRATIONS } from '@ventesync/server/schema';
import Database from 'better-sqlite3';

export const SERIAL = '0a1badae951f8473';
/** Tills of boutique 2 the server knows, for tests with several tills. */
export const TILLS = ['caisse-A', 'caisse-B', 'caisse-C', 'caisse-D'] as const;

/**
 * The real central server (its own app, routes and sale writer), in this process on an
 * in-memory database, listening on a free port: what the relay talks to in its tests.
 * Boutique 2 with the guide's till and four more, article 6 (40000.00, plenty in stock) and
 * article 7 (25000.00, 100 in stock).
 */
export async function startRealServer() {
  const db = new Database(':memory:');
  prepareDatabase(db, MIGRATIONS);
  db.exec(`
    INSERT INTO boutiques (id, nom, devise) VALUES (2, 'Ma Boutique', 'CDF');
    INSERT INTO terminaux (serial, nom, boutique_id, actif) VALUES ('${SERIAL}', 'Terminal messie vanza', 2, 1);
    INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES
      (6, 2, 'Samsung S24', 4000000, 1000000), (7, 2, 'Écouteurs Bluetooth', 2500000, 100);
  `);
  const addTill = db.prepare("INSERT INTO terminaux (serial, nom, boutique_id, actif) VALUES (?, ?, 2, 1)");
  for (const serial of TILLS) addTill.run(serial, `Caisse ${serial.slice(-1)}`);
  const app = await buildApp({ db, logger: false });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const numeros = db.prepare<[], string>('SELECT numero_facture FROM ventes ORDER BY id').pluck();
  const serialsOf = db.prepare<[], string>('SELECT DISTINCT terminal_serial FROM ventes ORDER BY terminal_serial').pluck();
  const setStock = db.prepare<[number, number]>('UPDATE articles SET quantite_stock = ? WHERE id = ?');
  return {
    url,
    db,
    /** Numeros of the sales the server holds, in the order it created them. */
    numeros: () => numeros.all(),
    serials: () => serialsOf.all(),
    setStock: (articleId: number, quantite: number) => void setStock.run(quantite, articleId),
    close: async () => {
      await app.close();
      db.close();
    },
  };
}

export type RealServer = Awaited<ReturnType<typeof startRealServer>>;
