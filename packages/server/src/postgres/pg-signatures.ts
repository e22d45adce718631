import { SIGNATURE_PRUNE_INTERVAL_SECONDS, SIGNATURE_PRUNE_MARGIN_SECONDS } from '@ventesync/runtime/http';
import { type ParsedSignature, SIGNATURE_WINDOW_SECONDS } from '@ventesync/shared';
import type { PgRunner, PgStatement } from './pg-runner.js';

/**
 * CONTRACT §6's replay guard on PostgreSQL (runtime/http's createReplayGuard, same table and
 * window): one INSERT per signed request, checked and recorded in one statement, shared by
 * every server instance on the database (a v1 accepted by one is a replay for the others).
 *
 * Each statement sets synchronous_commit off for its own transaction only (set_config(…, true)):
 * like SQLite's synchronous=NORMAL for this insert, no WAL flush of its own (a signed read
 * would otherwise cost one); the next sale's commit flushes it. A crash can forget the last
 * few, whose requests a sale's idempotence still guards.
 */
const SQL = {
  insert: {
    name: 'vs_sig_vue',
    text: `WITH relache AS (SELECT set_config('synchronous_commit', 'off', true))
           INSERT INTO signatures_vues (t, v1) SELECT $1::bigint, $2::bytea FROM relache ON CONFLICT DO NOTHING`,
  },
  prune: {
    name: 'vs_sig_purger',
    text: `WITH relache AS (SELECT set_config('synchronous_commit', 'off', true))
           DELETE FROM signatures_vues WHERE t < $1::bigint AND EXISTS (SELECT 1 FROM relache)`,
  },
} satisfies Record<string, PgStatement>;

export function createPgReplayGuard(db: PgRunner) {
  let prunedAt = 0;
  return {
    /** True the first time this v1 is seen within the window (and records it), false for a replay. */
    async accept(signature: ParsedSignature, nowSeconds: number): Promise<boolean> {
      if (nowSeconds - prunedAt >= SIGNATURE_PRUNE_INTERVAL_SECONDS) {
        prunedAt = nowSeconds;
        await db.query(SQL.prune, [nowSeconds - SIGNATURE_WINDOW_SECONDS - SIGNATURE_PRUNE_MARGIN_SECONDS]);
      }
      const inserted = await db.query(SQL.insert, [signature.t, Buffer.from(signature.v1, 'hex')]);
      return inserted.rowCount === 1;
    },
  };
}
