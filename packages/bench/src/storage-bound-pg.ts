import pg from 'pg';

/**
 * The storage bound on PostgreSQL, measured as SQLite's (storage-bound.ts): the writes of a sync
 * request, straight through the driver, with no HTTP, JSON or validation. Per batch, what the
 * server's PostgreSQL write path sends (postgres/pg-sale-writes.ts): BEGIN with the boutique's
 * lock and its articles locked, the duplicate check of the batch's numeros, then sales, lines,
 * stock, movements and running totals in one set-based statement, and one durable COMMIT.
 * `writers` connections write at once, each for its own boutique (the bench's tills of batch
 * 100 × 4 are one per boutique), as the server's pool does: PostgreSQL shares their WAL flushes.
 */
export async function measurePgStorageBound(
  url: string,
  batchSize: number,
  totalSales: number,
  writers: number,
): Promise<{ salesPerSecond: number }> {
  const pool = new pg.Pool({ connectionString: url, max: writers });
  try {
    const setup = await pool.connect();
    try {
      await setup.query('BEGIN');
      for (let b = 1; b <= writers; b++) {
        await setup.query(`INSERT INTO boutiques (id, nom) VALUES (${1000 + b}, 'Borne ${b}')`);
        await setup.query(`INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('borne-${b}', 'Borne', ${1000 + b})`);
        await setup.query(
          `INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (${b * 10 + 10001}, ${1000 + b}, 'A', 150000, 1000000000), (${b * 10 + 10002}, ${1000 + b}, 'B', 250000, 1000000000)`,
        );
      }
      await setup.query("SELECT setval(pg_get_serial_sequence('articles', 'id'), 100000)");
      await setup.query('COMMIT');
    } finally {
      setup.release();
    }

    const batchesPerWriter = Math.max(1, Math.floor(totalSales / batchSize / writers));
    const start = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const client = await pool.connect();
        try {
          for (let b = 0; b < batchesPerWriter; b++) await writeBatch(client, w + 1, b, batchSize);
        } finally {
          client.release();
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    return { salesPerSecond: (batchesPerWriter * writers * batchSize) / seconds };
  } finally {
    await pool.end();
  }
}

const WRITE = {
  name: 'borne_ecrire',
  text: `
    WITH v AS (
      INSERT INTO ventes (boutique_id, numero_facture, terminal_serial, date_vente, date_reception, mode_paiement, paye, montant_total, empreinte)
      SELECT $1, u.numero, $2, $3, $3, 'CASH', 1, 650000, 'x' FROM unnest($4::text[]) WITH ORDINALITY AS u(numero, ord)
      ORDER BY u.ord
      ON CONFLICT (boutique_id, numero_facture) DO NOTHING
      RETURNING id, numero_facture
    ), l AS (
      INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total)
      SELECT v.id, a.article, a.quantite, a.prix, a.prix * a.quantite
      FROM v CROSS JOIN (VALUES ($5::bigint, 1, 150000), ($6::bigint, 2, 250000)) AS a(article, quantite, prix)
    ), m AS (
      INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
      SELECT a.article, 'SORTIE', a.quantite, 0, 0, v.numero_facture, $2, $3
      FROM v CROSS JOIN (VALUES ($5::bigint, 1), ($6::bigint, 2)) AS a(article, quantite)
    ), s AS (
      UPDATE articles SET quantite_stock = quantite_stock - (CASE WHEN id = $5 THEN 1 ELSE 2 END) * $7::bigint
      WHERE id IN ($5, $6) AND quantite_stock >= 2 * $7::bigint
    )
    INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total)
    VALUES ($1, substr($3, 1, 10), 'CASH', $7, 650000 * $7::bigint)
    ON CONFLICT (boutique_id, jour, mode_paiement) DO UPDATE
      SET nombre_ventes = chiffres_jour.nombre_ventes + excluded.nombre_ventes,
          montant_total = chiffres_jour.montant_total + excluded.montant_total`,
};

const DUPLICATES = {
  name: 'borne_doublons',
  text: `SELECT v.numero_facture FROM unnest($2::text[]) AS u(numero)
         CROSS JOIN LATERAL (SELECT numero_facture FROM ventes WHERE boutique_id = $1 AND numero_facture = u.numero LIMIT 1) v`,
};

async function writeBatch(client: pg.PoolClient, writer: number, batch: number, size: number): Promise<void> {
  const boutique = 1000 + writer;
  const [a, b] = [writer * 10 + 10001, writer * 10 + 10002];
  const numeros = Array.from({ length: size }, (_, i) => `BORNE-${writer}-${batch}-${i}`);
  const date = new Date().toISOString();
  // BEGIN, the boutique's lock and its articles locked travel together, as the server sends them.
  await client.query(
    `BEGIN; SELECT pg_advisory_xact_lock(${0x5645}, ${boutique}); SELECT fuseau, stock_negatif FROM boutiques WHERE id = ${boutique};` +
      ` SELECT id, quantite_stock FROM articles WHERE boutique_id = ${boutique} AND id = ANY('{${a},${b}}'::bigint[]) ORDER BY id FOR UPDATE`,
  );
  const found = await client.query({ ...DUPLICATES, values: [boutique, numeros] });
  if (found.rowCount !== 0) throw new Error('borne : numéro déjà présent');
  await client.query({ ...WRITE, values: [boutique, `borne-${writer}`, date, numeros, a, b, size] });
  await client.query('COMMIT');
}
