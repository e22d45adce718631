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
];
