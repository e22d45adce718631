import { type AuditEntry, type AuditSource, cut, MAX_AUDIT_CHANGE_CHARS } from '../cli/index.js';

/** The few better-sqlite3 methods the audit needs (runtime does not depend on the addon). */
export interface AuditDb {
  prepare(source: string): { run(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
  transaction<T>(fn: () => T): { immediate(): T };
}

/**
 * The audit table of the server and of the relay (same rows): who changed what from a CLI
 * (never a secret's value). A row is written in the same transaction as the change it tells
 * of, so that neither exists without the other.
 */
export function createAuditLog(db: AuditDb) {
  const stmt = {
    insert: db.prepare('INSERT INTO audit (le, utilisateur, commande, changement) VALUES (?, ?, ?, ?)'),
    list: db.prepare(`
      SELECT id, le, utilisateur, commande, changement FROM audit
      WHERE (? IS NULL OR le >= ?)
      ORDER BY id DESC LIMIT ?`),
  };
  return {
    record(source: AuditSource, changement: string, now: Date): void {
      stmt.insert.run(now.toISOString(), source.utilisateur, source.commande, cut(changement, MAX_AUDIT_CHANGE_CHARS));
    },
    /** Newest first; `depuis` keeps the rows from that moment on. */
    list(options: { depuis: Date | null; limit: number }): AuditEntry[] {
      const depuis = options.depuis?.toISOString() ?? null;
      return stmt.list.all(depuis, depuis, options.limit) as AuditEntry[];
    },
  };
}

/**
 * Runs `change` and writes its audit row in one IMMEDIATE transaction: if either fails, neither
 * is kept. `describe` says what the change did, in words (never a secret's value); null when it
 * changed nothing, and then no row is written.
 */
export function audited<T>(db: AuditDb, source: AuditSource, change: () => T, describe: (result: T) => string | null, now: () => Date = () => new Date()): T {
  const log = createAuditLog(db);
  return db
    .transaction(() => {
      const result = change();
      const said = describe(result);
      if (said !== null) log.record(source, said, now());
      return result;
    })
    .immediate();
}
