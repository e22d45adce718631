import { type AuditEntry, type AuditSource, cut, MAX_AUDIT_CHANGE_CHARS } from '@ventesync/runtime/cli';
import { int, type PgRunner, type PgStatement } from './pg-runner.js';

/**
 * The audit table on PostgreSQL (runtime/sqlite/audit-log.ts's rows and rules): who changed
 * what from the CLI, the row written in the change's own transaction (pg-storage.ts's audited).
 */
const SQL = {
  insert: { name: 'vs_aud_ecrire', text: 'INSERT INTO audit (le, utilisateur, commande, changement) VALUES ($1, $2, $3, $4)' },
  list: {
    name: 'vs_aud_lister',
    text: `SELECT id, le, utilisateur, commande, changement FROM audit
           WHERE ($1::text IS NULL OR le >= $1::text)
           ORDER BY id DESC LIMIT $2`,
  },
} satisfies Record<string, PgStatement>;

export function createPgAuditLog(db: PgRunner) {
  return {
    async record(source: AuditSource, changement: string, now: Date): Promise<void> {
      await db.query(SQL.insert, [now.toISOString(), source.utilisateur, source.commande, cut(changement, MAX_AUDIT_CHANGE_CHARS)]);
    },
    /** Newest first; `depuis` keeps the rows from that moment on. */
    async list(options: { depuis: Date | null; limit: number }): Promise<AuditEntry[]> {
      const rows = (await db.query<Omit<AuditEntry, 'id'> & { id: string }>(SQL.list, [options.depuis?.toISOString() ?? null, options.limit])).rows;
      return rows.map((r) => ({ ...r, id: int(r.id) }));
    },
  };
}
