import { createHash } from 'node:crypto';
import { newSecret, type RelaisTerminal } from '@ventesync/shared';
import { boutiqueNotFound, checkNewRelay, relayNotFound } from './catalogue-rules.js';
import type { Db } from './db/open-database.js';

/** A registered relay as operators see it: never its secret. */
export interface RelayRow {
  id: number;
  nom: string;
  boutiques: number[];
  actif: boolean;
}

/** What the signature check needs of an active relay (its secret is never logged). */
export interface ActiveRelay {
  id: number;
  secret: string;
  boutiques: ReadonlySet<number>;
}

/** Relay ids are small integers; anything longer is not one (and is not looked up). */
const RELAY_ID_PATTERN = /^[1-9]\d{0,14}$/;

export function parseRelayId(text: string): number | null {
  return RELAY_ID_PATTERN.test(text) ? Number(text) : null;
}

/** The version a relay is told of its terminal list (header X-Relay-Terminals-Version): both backends. */
export function terminalsVersionOf(requireSignatures: boolean, terminaux: RelaisTerminal[]): string {
  const text = JSON.stringify({ signatures_requises: requireSignatures, terminaux });
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/**
 * CONTRACT §6 registered relays. Secrets are stored as issued, not hashed: the server computes
 * HMACs with them. They are shown once, by `add` and `rotate`, and never listed or logged.
 */
export function createRelayRegistry(db: Db, options: { requireSignatures?: boolean } = {}) {
  const requireSignatures = options.requireSignatures ?? false;
  const stmt = {
    terminals: db.prepare<[number], { serial: string; boutique_id: number; actif: number; secret: string | null }>(`
      SELECT t.serial, t.boutique_id, t.actif, t.secret
      FROM relais_boutiques rb JOIN terminaux t ON t.boutique_id = rb.boutique_id
      WHERE rb.relais_id = ? ORDER BY t.serial`),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    insert: db.prepare<[string, string], { id: number }>('INSERT INTO relais (nom, secret) VALUES (?, ?) RETURNING id'),
    addBoutique: db.prepare<[number, number]>('INSERT OR IGNORE INTO relais_boutiques (relais_id, boutique_id) VALUES (?, ?)'),
    boutique: db.prepare<[number], { id: number }>('SELECT id FROM boutiques WHERE id = ?'),
    list: db.prepare<[], { id: number; nom: string; actif: number; boutiques: string }>(`
      SELECT r.id, r.nom, r.actif,
             (SELECT json_group_array(boutique_id) FROM relais_boutiques WHERE relais_id = r.id) AS boutiques
      FROM relais r ORDER BY r.id`),
    active: db.prepare<[number], { id: number; secret: string; boutiques: string }>(`
      SELECT r.id, r.secret,
             (SELECT json_group_array(boutique_id) FROM relais_boutiques WHERE relais_id = r.id) AS boutiques
      FROM relais r WHERE r.id = ? AND r.actif = 1`),
    disableActive: db.prepare<[number]>('UPDATE relais SET actif = 0 WHERE id = ? AND actif = 1'),
    exists: db.prepare<[number], { id: number }>('SELECT id FROM relais WHERE id = ?'),
    setSecret: db.prepare<[string, number]>('UPDATE relais SET secret = ? WHERE id = ?'),
  };

  const add = db.transaction((nom: string, boutiques: readonly number[]): { id: number; secret: string } => {
    const secret = newSecret();
    const { id } = stmt.insert.get(nom, secret)!;
    for (const boutique of boutiques) stmt.addBoutique.run(id, boutique);
    return { id, secret };
  });

  function terminalsOf(relayId: number): RelaisTerminal[] {
    return stmt.terminals.all(relayId).map((t) => ({ serial: t.serial, boutique_id: t.boutique_id, actif: t.actif === 1, secret: t.secret }));
  }
  /**
   * The version of each relay's list, recomputed only when the database changed. Secrets and
   * terminals change from the CLI, another process: `PRAGMA data_version` moves then. (It does
   * not move for this connection's own writes, and the server process never writes terminals.)
   */
  const versions = new Map<number, string>();
  let versionsOf = -1;
  function terminalsVersion(relayId: number): string {
    const dataVersion = stmt.dataVersion.get()!;
    if (dataVersion !== versionsOf) {
      versions.clear();
      versionsOf = dataVersion;
    }
    let version = versions.get(relayId);
    if (version === undefined) {
      version = terminalsVersionOf(requireSignatures, terminalsOf(relayId));
      versions.set(relayId, version);
    }
    return version;
  }

  return {
    /** CONTRACT §6: the terminals of a relay's boutiques, with their secrets, for that relay only. */
    terminalsOf,
    terminalsVersion,
    requireSignatures,
    add(nom: string, boutiques: readonly number[]): { id: number; secret: string } {
      const name = checkNewRelay(nom, boutiques);
      for (const boutique of boutiques) {
        if (!stmt.boutique.get(boutique)) throw boutiqueNotFound(boutique);
      }
      return add.immediate(name, boutiques);
    },
    list: (): RelayRow[] =>
      stmt.list.all().map((r) => ({ id: r.id, nom: r.nom, boutiques: JSON.parse(r.boutiques) as number[], actif: r.actif === 1 })),
    /** False when it was already disabled: nothing changed (no audit row for it). */
    disable(id: number): boolean {
      if (stmt.disableActive.run(id).changes === 1) return true;
      if (!stmt.exists.get(id)) throw relayNotFound(id);
      return false;
    },
    /** A new secret; the old one stops working at once. */
    rotate(id: number): { id: number; secret: string } {
      const secret = newSecret();
      if (stmt.setSecret.run(secret, id).changes === 0) throw relayNotFound(id);
      return { id, secret };
    },
    findActive(id: number): ActiveRelay | undefined {
      const row = stmt.active.get(id);
      return row && { id: row.id, secret: row.secret, boutiques: new Set(JSON.parse(row.boutiques) as number[]) };
    },
  };
}

export type RelayRegistry = ReturnType<typeof createRelayRegistry>;
