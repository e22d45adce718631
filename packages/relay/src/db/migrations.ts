/**
 * The relay's schema versions, applied in order at start (`PRAGMA user_version`).
 * Never edit a released entry: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  -- One row per sale a till handed over. The row is the relay's promise: it is never deleted
  -- before the server has the sale (purge takes SYNCHRONISEE rows only).
  CREATE TABLE ventes (
    id                  INTEGER PRIMARY KEY,
    serial              TEXT NOT NULL,
    boutique_id         INTEGER,
    numero_facture      TEXT NOT NULL,
    numero_genere       INTEGER NOT NULL DEFAULT 0,
    contenu             TEXT NOT NULL,
    empreinte           TEXT NOT NULL,
    montant_total       INTEGER NOT NULL,
    statut              TEXT NOT NULL DEFAULT 'EN_ATTENTE'
                        CHECK (statut IN ('EN_ATTENTE', 'SYNCHRONISEE', 'REJETEE', 'ABANDONNEE')),
    recue_le            TEXT NOT NULL,
    tentatives          INTEGER NOT NULL DEFAULT 0,
    tentatives_stock    INTEGER NOT NULL DEFAULT 0,
    prochaine_tentative TEXT,
    code_erreur         TEXT,
    erreur              TEXT,
    montant_serveur     TEXT,
    synchronisee_le     TEXT,
    decision            TEXT,
    decision_le         TEXT
  );
  CREATE INDEX ventes_a_envoyer ON ventes(statut, serial, id);
  CREATE INDEX ventes_numero ON ventes(numero_facture);

  -- What the relay learned of each till from the server.
  CREATE TABLE terminaux (
    serial          TEXT PRIMARY KEY,
    statut          TEXT NOT NULL CHECK (statut IN ('CONNU', 'INCONNU', 'NON_VERIFIE')),
    boutique_id     INTEGER,
    boutique_nom    TEXT,
    terminal_nom    TEXT,
    verifie_le      TEXT,
    derniere_sync   TEXT,
    derniere_erreur TEXT,
    erreur_le       TEXT
  );

  -- The last catalogue the server gave, to price sales and answer tills when it is away.
  CREATE TABLE catalogue (
    boutique_id    INTEGER NOT NULL,
    article_id     INTEGER NOT NULL,
    nom            TEXT NOT NULL,
    prix_vente     INTEGER NOT NULL,
    quantite_stock INTEGER NOT NULL,
    PRIMARY KEY (boutique_id, article_id)
  ) WITHOUT ROWID;
  CREATE TABLE catalogue_maj (
    boutique_id INTEGER PRIMARY KEY,
    mis_a_jour  TEXT NOT NULL
  );

  -- Small facts about the daemon: its address (for 'sync'), the server's reachability.
  CREATE TABLE etat (
    cle    TEXT PRIMARY KEY,
    valeur TEXT
  );
  `,
  `
  -- Version 2 (issue 8): shared by the till/staff side and the forwarding side; append to it.

  -- A batch is claimed before it is sent (the time of the claim), cleared when its answer is
  -- recorded or the send is abandoned: a person cannot discard a sale the server may be
  -- creating at that very moment.
  ALTER TABLE ventes ADD COLUMN en_vol TEXT;
  -- What the relay adds to a person's decision, e.g. a discarded sale the server had anyway.
  ALTER TABLE ventes ADD COLUMN note TEXT;

  -- Every send of a sale and what came of it: a rejected sale keeps its history after retry.
  CREATE TABLE tentatives (
    id       INTEGER PRIMARY KEY,
    vente_id INTEGER NOT NULL REFERENCES ventes(id) ON DELETE CASCADE,
    le       TEXT NOT NULL,
    resultat TEXT NOT NULL CHECK (resultat IN ('SYNCHRONISEE', 'REJETEE', 'REFUS_STOCK', 'SANS_REPONSE', 'ECHEC')),
    code     TEXT,
    message  TEXT
  );
  CREATE INDEX tentatives_vente ON tentatives(vente_id, id);
  `,
  `
  -- Issue 9 (CONTRACT §6): what the relay needs to check its tills' signatures when the server
  -- is away. The list of its boutiques' terminals as the server gave it; each secret encrypted
  -- (AES-256-GCM, key derived from the relay's own secret, never stored here), so that a copy of
  -- this file alone does not let anyone sign as a till.
  CREATE TABLE terminaux_secrets (
    serial         TEXT PRIMARY KEY,
    boutique_id    INTEGER NOT NULL,
    actif          INTEGER NOT NULL,
    secret_chiffre TEXT
  ) WITHOUT ROWID;
  -- Every till signature (v1, its 32 bytes) the relay accepted within the last 300 s: a
  -- replay is refused after a restart too. Keyed by t first: the window is pruned by a range
  -- delete, and v1 (an HMAC over a message starting with t) never comes with another t.
  CREATE TABLE signatures_vues (
    t  INTEGER NOT NULL,
    v1 BLOB NOT NULL,
    PRIMARY KEY (t, v1)
  ) WITHOUT ROWID;
  `,
  `
  -- Issue 11: who changed what from the relay's CLI (retry, discard, purge…), one row per
  -- change, written in the change's own transaction (audit-log.ts); commande as typed, secret
  -- values removed; le in UTC.
  CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    le          TEXT NOT NULL,
    utilisateur TEXT NOT NULL,
    commande    TEXT NOT NULL,
    changement  TEXT NOT NULL
  );
  `,
  `
  -- CONTRACT §7: what the server said of a sale it created anyway (a sale of the shop taken
  -- below zero stock: STOCK_NEGATIF, article, shortfall), its JSON list as the server gave
  -- it; null when there was nothing to say. Kept for people to see in show and the lists.
  ALTER TABLE ventes ADD COLUMN avertissements TEXT;
  `,
  `
  -- Issue 10: returns a till handed over, held and forwarded like sales (retour-store.ts), in
  -- the same states. contenu is the return as it will be forwarded (JSON, date included).
  -- A return is sent only once its sale is no longer EN_ATTENTE here (after the sale).
  CREATE TABLE retours (
    id                  INTEGER PRIMARY KEY,
    serial              TEXT NOT NULL,
    boutique_id         INTEGER,
    numero_retour       TEXT NOT NULL,
    numero_facture      TEXT NOT NULL,
    contenu             TEXT NOT NULL,
    empreinte           TEXT NOT NULL,
    montant_total       INTEGER NOT NULL,
    statut              TEXT NOT NULL DEFAULT 'EN_ATTENTE'
                        CHECK (statut IN ('EN_ATTENTE', 'SYNCHRONISEE', 'REJETEE', 'ABANDONNEE')),
    recue_le            TEXT NOT NULL,
    tentatives          INTEGER NOT NULL DEFAULT 0,
    echecs_seul         INTEGER NOT NULL DEFAULT 0,
    en_vol              TEXT,
    code_erreur         TEXT,
    erreur              TEXT,
    montant_serveur     TEXT,
    synchronisee_le     TEXT,
    decision            TEXT,
    decision_le         TEXT
  );
  CREATE INDEX retours_a_envoyer ON retours(statut, serial, id);
  CREATE INDEX retours_numero ON retours(numero_retour);
  CREATE INDEX retours_vente ON retours(numero_facture);
  `,
  `
  -- Issue 10: every send of a return and what came of it, as tentatives for sales. A return
  -- whose last send had no clear answer (the server may have it) cannot be discarded until an
  -- answer says; show lists the sends. ATTENTE_VENTE: the server lacks the sale, which still
  -- waits here (the return goes after it).
  CREATE TABLE retour_tentatives (
    id        INTEGER PRIMARY KEY,
    retour_id INTEGER NOT NULL,
    le        TEXT NOT NULL,
    resultat  TEXT NOT NULL CHECK (resultat IN ('SYNCHRONISEE', 'REJETEE', 'ATTENTE_VENTE', 'SANS_REPONSE', 'ECHEC')),
    code      TEXT,
    message   TEXT
  );
  CREATE INDEX retour_tentatives_retour ON retour_tentatives(retour_id, id);
  `,
];
