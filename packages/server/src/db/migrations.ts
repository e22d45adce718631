/**
 * Schema versions, applied in order at start; `PRAGMA user_version` records how many ran.
 * Never edit a released entry: add a new one.
 * Money columns are integer centimes.
 * `ventes.empreinte`: rows of the first version hold a fingerprint without the date; they are
 * kept as they are and read by the shared `isSameSale` (no SQL can recompute a SHA-256).
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE boutiques (
    id     INTEGER PRIMARY KEY,
    nom    TEXT NOT NULL,
    devise TEXT NOT NULL DEFAULT 'CDF'
  );

  CREATE TABLE terminaux (
    serial      TEXT PRIMARY KEY,
    nom         TEXT NOT NULL,
    boutique_id INTEGER NOT NULL REFERENCES boutiques(id),
    actif       INTEGER NOT NULL DEFAULT 1 CHECK (actif IN (0, 1))
  );

  CREATE TABLE articles (
    id             INTEGER PRIMARY KEY,
    boutique_id    INTEGER NOT NULL REFERENCES boutiques(id),
    nom            TEXT NOT NULL,
    prix_vente     INTEGER NOT NULL CHECK (prix_vente >= 0),
    quantite_stock INTEGER NOT NULL DEFAULT 0 CHECK (quantite_stock >= 0)
  );
  CREATE INDEX articles_boutique ON articles(boutique_id, id);

  CREATE TABLE ventes (
    id              INTEGER PRIMARY KEY,
    boutique_id     INTEGER NOT NULL REFERENCES boutiques(id),
    numero_facture  TEXT NOT NULL,
    terminal_serial TEXT NOT NULL REFERENCES terminaux(serial),
    date_vente      TEXT NOT NULL,
    date_reception  TEXT NOT NULL,
    mode_paiement   TEXT NOT NULL CHECK (mode_paiement IN ('CASH', 'MOBILE_MONEY', 'CARTE')),
    paye            INTEGER NOT NULL CHECK (paye IN (0, 1)),
    montant_total   INTEGER NOT NULL,
    empreinte       TEXT NOT NULL,
    UNIQUE (boutique_id, numero_facture)
  );
  CREATE INDEX ventes_historique ON ventes(boutique_id, date_vente DESC, id DESC);

  CREATE TABLE lignes_vente (
    id            INTEGER PRIMARY KEY,
    vente_id      INTEGER NOT NULL REFERENCES ventes(id),
    article_id    INTEGER NOT NULL REFERENCES articles(id),
    quantite      INTEGER NOT NULL CHECK (quantite > 0),
    prix_unitaire INTEGER NOT NULL,
    sous_total    INTEGER NOT NULL
  );
  CREATE INDEX lignes_vente_vente ON lignes_vente(vente_id);

  CREATE TABLE mouvements_stock (
    id              INTEGER PRIMARY KEY,
    article_id      INTEGER NOT NULL REFERENCES articles(id),
    type            TEXT NOT NULL CHECK (type IN ('SORTIE', 'ENTREE', 'AJUSTEMENT')),
    quantite        INTEGER NOT NULL,
    stock_avant     INTEGER NOT NULL,
    stock_apres     INTEGER NOT NULL,
    reference       TEXT,
    terminal_serial TEXT,
    date            TEXT NOT NULL
  );
  CREATE INDEX mouvements_article ON mouvements_stock(article_id, id);

  -- Running totals per boutique, day (UTC, of date_vente) and payment mode, kept by the sale
  -- writer, so that statistics stay a few row reads however many sales are stored.
  CREATE TABLE chiffres_jour (
    boutique_id   INTEGER NOT NULL,
    jour          TEXT NOT NULL,
    mode_paiement TEXT NOT NULL,
    nombre_ventes INTEGER NOT NULL,
    montant_total INTEGER NOT NULL,
    PRIMARY KEY (boutique_id, jour, mode_paiement)
  ) WITHOUT ROWID;
  `,
  // CONTRACT §6. The secrets are stored as issued, not hashed: the server computes HMACs with
  // them, which needs the key itself. They are never printed after issue, listed or logged.
  // signatures_vues: every v1 accepted within the last 300 s (by its t), so that a replay is
  // refused across restarts; rows older than the window are pruned.
  `
  ALTER TABLE terminaux ADD COLUMN secret TEXT;

  CREATE TABLE relais (
    id     INTEGER PRIMARY KEY,
    nom    TEXT NOT NULL,
    secret TEXT NOT NULL,
    actif  INTEGER NOT NULL DEFAULT 1 CHECK (actif IN (0, 1))
  );

  CREATE TABLE relais_boutiques (
    relais_id   INTEGER NOT NULL REFERENCES relais(id),
    boutique_id INTEGER NOT NULL REFERENCES boutiques(id),
    PRIMARY KEY (relais_id, boutique_id)
  ) WITHOUT ROWID;

  CREATE TABLE signatures_vues (
    v1 TEXT PRIMARY KEY,
    t  INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX signatures_vues_t ON signatures_vues(t);
  `,
  // CONTRACT §7 (issue 10, books part 1): local days, till clocks, offline sales and stock.
  // - boutiques.fuseau: the IANA zone whose days are the books' days (checked by the program:
  //   SQLite does not know zones). boutiques.stock_negatif: 'autoriser' lets the boutique's sales
  //   take the stock below zero.
  // - ventes.date_vente_caisse: the till's date_vente when it was ahead of the server's clock
  //   and replaced by the reception time; null otherwise.
  // - articles is rebuilt without CHECK (quantite_stock >= 0) (SQLite cannot drop a CHECK):
  //   the rows are set aside, the table dropped and made again, the rows put back. Foreign keys
  //   stay on but deferred: dropping counts the lines and movements left without their article,
  //   putting each article back counts them off, and the commit checks that none is left. The
  //   temporary index keeps those counts from scanning every sale line once per article.
  // - chiffres_jour is rebuilt from the sales by local day; every boutique starts in UTC, so
  //   that is the UTC day (a later change of zone rebuilds that boutique's rows: daily-totals.ts).
  `
  ALTER TABLE boutiques ADD COLUMN fuseau TEXT NOT NULL DEFAULT 'UTC';
  ALTER TABLE boutiques ADD COLUMN stock_negatif TEXT NOT NULL DEFAULT 'refuser'
    CHECK (stock_negatif IN ('refuser', 'autoriser'));
  ALTER TABLE ventes ADD COLUMN date_vente_caisse TEXT;

  PRAGMA defer_foreign_keys = ON;
  CREATE INDEX lignes_vente_article_migration ON lignes_vente(article_id);
  CREATE TEMP TABLE articles_migration AS SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM articles;
  DROP TABLE articles;
  CREATE TABLE articles (
    id             INTEGER PRIMARY KEY,
    boutique_id    INTEGER NOT NULL REFERENCES boutiques(id),
    nom            TEXT NOT NULL,
    prix_vente     INTEGER NOT NULL CHECK (prix_vente >= 0),
    quantite_stock INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock)
    SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM temp.articles_migration ORDER BY id;
  DROP TABLE temp.articles_migration;
  DROP INDEX lignes_vente_article_migration;
  CREATE INDEX articles_boutique ON articles(boutique_id, id);

  DELETE FROM chiffres_jour;
  INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total)
    SELECT boutique_id, substr(date_vente, 1, 10), mode_paiement, COUNT(*), SUM(montant_total)
    FROM ventes GROUP BY boutique_id, substr(date_vente, 1, 10), mode_paiement;
  `,
  // Returns (issue 10 point 4). A return belongs to one sale of its boutique; its lines are
  // priced from the sale's lines (see retour-writer.ts). mode_paiement is the sale's, copied so
  // that a day's returns are summed per mode from this table alone: returns are not in
  // chiffres_jour, so a change of day boundaries never has to rebuild them. mouvements_stock is
  // rebuilt so that its CHECK takes the 'RETOUR' type (SQLite cannot alter a CHECK); nothing
  // references it.
  `
  CREATE TABLE retours (
    id              INTEGER PRIMARY KEY,
    boutique_id     INTEGER NOT NULL REFERENCES boutiques(id),
    numero_retour   TEXT NOT NULL,
    vente_id        INTEGER NOT NULL REFERENCES ventes(id),
    terminal_serial TEXT NOT NULL REFERENCES terminaux(serial),
    date_retour     TEXT NOT NULL,
    date_reception  TEXT NOT NULL,
    mode_paiement   TEXT NOT NULL,
    motif           TEXT,
    montant_total   INTEGER NOT NULL CHECK (montant_total >= 0),
    empreinte       TEXT NOT NULL,
    UNIQUE (boutique_id, numero_retour)
  );
  CREATE INDEX retours_vente ON retours(vente_id);
  CREATE INDEX retours_jour ON retours(boutique_id, date_retour, mode_paiement, montant_total);

  CREATE TABLE lignes_retour (
    id            INTEGER PRIMARY KEY,
    retour_id     INTEGER NOT NULL REFERENCES retours(id),
    article_id    INTEGER NOT NULL REFERENCES articles(id),
    quantite      INTEGER NOT NULL CHECK (quantite > 0),
    prix_unitaire INTEGER NOT NULL,
    sous_total    INTEGER NOT NULL
  );
  CREATE INDEX lignes_retour_retour ON lignes_retour(retour_id);

  CREATE TABLE mouvements_stock_v2 (
    id              INTEGER PRIMARY KEY,
    article_id      INTEGER NOT NULL REFERENCES articles(id),
    type            TEXT NOT NULL CHECK (type IN ('SORTIE', 'ENTREE', 'AJUSTEMENT', 'RETOUR')),
    quantite        INTEGER NOT NULL,
    stock_avant     INTEGER NOT NULL,
    stock_apres     INTEGER NOT NULL,
    reference       TEXT,
    terminal_serial TEXT,
    date            TEXT NOT NULL
  );
  INSERT INTO mouvements_stock_v2 (id, article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
    SELECT id, article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date FROM mouvements_stock;
  DROP TABLE mouvements_stock;
  ALTER TABLE mouvements_stock_v2 RENAME TO mouvements_stock;
  CREATE INDEX mouvements_article ON mouvements_stock(article_id, id);
  `,
  // Issue 11. audit: who changed what from the CLI, one row per change, written in the
  // change's own transaction (audit-log.ts); commande as typed, secret values removed; le in
  // UTC. relais_rapports: each registered relay's last report of its state (relay-reports.ts),
  // one row per relay, overwritten by the next: the table never grows past the relays.
  `
  CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    le          TEXT NOT NULL,
    utilisateur TEXT NOT NULL,
    commande    TEXT NOT NULL,
    changement  TEXT NOT NULL
  );
  CREATE INDEX audit_le ON audit(le);

  CREATE TABLE relais_rapports (
    relais_id INTEGER PRIMARY KEY REFERENCES relais(id),
    recu_le   TEXT NOT NULL,
    rapport   TEXT NOT NULL
  );
  `,
  // Till clocks for returns, as for sales (CONTRACT §7): a date_retour more than 10 minutes
  // ahead of the server's clock is stored as the reception time; the till's value is kept here.
  `
  ALTER TABLE retours ADD COLUMN date_retour_caisse TEXT;
  `,
  // Signatures seen, keyed by (t, v1) with v1 as its 32 bytes: a second's rows sit together
  // (v1 alone is random, each insert touched a page anywhere), and pruning the window is a
  // range delete on the key, with no index on t to keep. v1 is an HMAC over a message that
  // starts with t, so the same v1 cannot come with another t: uniqueness is unchanged.
  `
  CREATE TABLE signatures_vues_v2 (
    t  INTEGER NOT NULL,
    v1 BLOB NOT NULL,
    PRIMARY KEY (t, v1)
  ) WITHOUT ROWID;
  INSERT INTO signatures_vues_v2 (t, v1) SELECT t, unhex(v1) FROM signatures_vues;
  DROP TABLE signatures_vues;
  ALTER TABLE signatures_vues_v2 RENAME TO signatures_vues;
  `,
];
