import { newSecret, type RelaisTerminal } from '@ventesync/shared';
import { boutiqueNotFound, checkNewRelay, relayNotFound } from '../catalogue-rules.js';
import type { ActiveRelay } from '../relay-registry.js';
import { terminalsVersionOf } from '../relay-registry.js';
import { overviewOf } from '../relay-reports.js';
import type { RelayStorage } from '../storage/storage.js';
import { int, type PgRunner, type PgStatement } from './pg-runner.js';

/**
 * CONTRACT §6 registered relays and their reports on PostgreSQL (relay-registry.ts and
 * relay-reports.ts's methods, same results and refusals).
 */

const SQL = {
  terminals: {
    name: 'vs_rel_terminaux',
    text: `SELECT t.serial, t.boutique_id, t.actif, t.secret
           FROM relais_boutiques rb JOIN terminaux t ON t.boutique_id = rb.boutique_id
           WHERE rb.relais_id = $1 ORDER BY t.serial`,
  },
  // Moved by a trigger on every change of terminaux and relais_boutiques, from any instance or CLI.
  version: { name: 'vs_rel_version', text: 'SELECT version FROM version_terminaux WHERE id = 1' },
  insert: { name: 'vs_rel_creer', text: 'INSERT INTO relais (nom, secret) VALUES ($1, $2) RETURNING id' },
  addBoutique: {
    name: 'vs_rel_boutique',
    text: 'INSERT INTO relais_boutiques (relais_id, boutique_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
  },
  boutique: { name: 'vs_rel_boutique_existe', text: 'SELECT id FROM boutiques WHERE id = $1' },
  active: {
    name: 'vs_rel_actif',
    text: `SELECT r.id, r.secret, ARRAY(SELECT boutique_id FROM relais_boutiques WHERE relais_id = r.id ORDER BY boutique_id) AS boutiques
           FROM relais r WHERE r.id = $1 AND r.actif = 1`,
  },
  disableActive: { name: 'vs_rel_desactiver', text: 'UPDATE relais SET actif = 0 WHERE id = $1 AND actif = 1' },
  exists: { name: 'vs_rel_existe', text: 'SELECT id FROM relais WHERE id = $1' },
  setSecret: { name: 'vs_rel_secret', text: 'UPDATE relais SET secret = $1 WHERE id = $2' },
  saveReport: {
    name: 'vs_rel_rapport',
    text: `INSERT INTO relais_rapports (relais_id, recu_le, rapport) VALUES ($1, $2, $3)
           ON CONFLICT (relais_id) DO UPDATE SET recu_le = excluded.recu_le, rapport = excluded.rapport`,
  },
  overview: {
    name: 'vs_rel_apercu',
    text: `SELECT r.id, r.nom, r.actif,
                  ARRAY(SELECT boutique_id FROM relais_boutiques WHERE relais_id = r.id ORDER BY boutique_id) AS boutiques,
                  rr.recu_le, rr.rapport
           FROM relais r LEFT JOIN relais_rapports rr ON rr.relais_id = r.id
           ORDER BY r.id`,
  },
} satisfies Record<string, PgStatement>;

/**
 * The versions already computed, per relay and signature rule, as of one value of
 * version_terminaux: one small read per relay request instead of the whole list and a hash.
 * Shared by the storage's relays; a transaction's own relays (a CLI change) do without.
 */
export interface TerminalsVersionCache {
  of: number | null;
  versions: Map<string, string>;
}

export const newTerminalsVersionCache = (): TerminalsVersionCache => ({ of: null, versions: new Map() });

export function createPgRelays(db: PgRunner, cache: TerminalsVersionCache = newTerminalsVersionCache()): RelayStorage {
  async function terminalsOf(relayId: number): Promise<RelaisTerminal[]> {
    const rows = (await db.query<{ serial: string; boutique_id: string; actif: number; secret: string | null }>(SQL.terminals, [relayId])).rows;
    return rows.map((t) => ({ serial: t.serial, boutique_id: int(t.boutique_id), actif: t.actif === 1, secret: t.secret }));
  }

  return {
    async add(nom, boutiques) {
      const name = checkNewRelay(nom, boutiques);
      for (const boutique of boutiques) {
        if ((await db.query(SQL.boutique, [boutique])).rowCount === 0) throw boutiqueNotFound(boutique);
      }
      return db.transaction(async (tx) => {
        const secret = newSecret();
        const id = int((await tx.query<{ id: string }>(SQL.insert, [name, secret])).rows[0]!.id);
        for (const boutique of boutiques) await tx.query(SQL.addBoutique, [id, boutique]);
        return { id, secret };
      });
    },
    async disable(id) {
      if ((await db.query(SQL.disableActive, [id])).rowCount === 1) return true;
      if ((await db.query(SQL.exists, [id])).rowCount === 0) throw relayNotFound(id);
      return false;
    },
    async rotate(id) {
      const secret = newSecret();
      if ((await db.query(SQL.setSecret, [secret, id])).rowCount === 0) throw relayNotFound(id);
      return { id, secret };
    },
    async findActive(id): Promise<ActiveRelay | undefined> {
      const row = (await db.query<{ id: string; secret: string; boutiques: string[] }>(SQL.active, [id])).rows[0];
      return row && { id: int(row.id), secret: row.secret, boutiques: new Set(row.boutiques.map(int)) };
    },
    terminalsOf,
    async terminalsVersion(relayId, requireSignatures) {
      const of = int((await db.query<{ version: string }>(SQL.version)).rows[0]!.version);
      if (of !== cache.of) {
        cache.versions.clear();
        cache.of = of;
      }
      const key = `${relayId} ${requireSignatures}`;
      let version = cache.versions.get(key);
      if (version === undefined) {
        // Read after the counter: the list is at least as new as `of`; a change in between
        // moves the counter, and the next request computes again.
        version = terminalsVersionOf(requireSignatures, await terminalsOf(relayId));
        cache.versions.set(key, version);
      }
      return version;
    },
    async saveReport(relayId, report, now) {
      await db.query(SQL.saveReport, [relayId, now.toISOString(), JSON.stringify(report)]);
    },
    async overview(now) {
      const rows = (
        await db.query<{ id: string; nom: string; actif: number; boutiques: string[]; recu_le: string | null; rapport: string | null }>(SQL.overview)
      ).rows;
      return rows.map((row) => overviewOf({ ...row, id: int(row.id), boutiques: row.boutiques.map(int) }, now));
    },
  };
}
