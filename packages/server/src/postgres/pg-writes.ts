import type pg from 'pg';
import type { WriteStorage } from '../storage/storage.js';
import type { WriteRetoursResult } from '../retour-rules.js';
import type { WriteSalesResult } from '../sale-rules.js';
import { createPgRetourWrites, type RetourRequest } from './pg-retour-writes.js';
import { createPgSaleWrites, type SaleRequest } from './pg-sale-writes.js';
import { createPgWriteQueue, DEFAULT_PG_WRITE_QUEUE_LIMITS, type PgWriteQueueLimits, type PgWriteStats } from './pg-write-queue.js';

/**
 * The PostgreSQL write path (storage.ts's WriteStorage): sales and returns share one bounded
 * queue in front of the connections, as they share the group commit on SQLite. A boutique's
 * sales that wait while its transaction runs go together in the next one (pg-write-queue.ts).
 */
/** WriteStorage, its counters with the retries. */
export type PgWrites = Omit<WriteStorage, 'stats'> & { stats(): Readonly<PgWriteStats> };

export function createPgWrites(pool: pg.Pool, where: string, limits: Partial<PgWriteQueueLimits> = {}): PgWrites {
  const retried = () => queue.retried();
  const sales = createPgSaleWrites(pool, where, retried);
  const retours = createPgRetourWrites(pool, where, retried);
  const queue = createPgWriteQueue(
    {
      sales: { run: sales.writeGroup as (payloads: never[]) => Promise<unknown[]>, groupable: true },
      retours: { run: retours.writeGroup as (payloads: never[]) => Promise<unknown[]>, groupable: false },
    },
    { ...DEFAULT_PG_WRITE_QUEUE_LIMITS, ...limits },
  );
  return {
    sales: (terminal, items, receivedAt, options, bytes) =>
      queue.submit<WriteSalesResult>(
        terminal.boutique_id,
        'sales',
        items.length,
        bytes,
        { terminal, items, receivedAt, options } satisfies SaleRequest,
        (r) => r.creees.length,
      ),
    retours: (terminal, items, receivedAt, bytes) =>
      queue.submit<WriteRetoursResult>(
        terminal.boutique_id,
        'retours',
        items.length,
        bytes,
        { terminal, items, receivedAt } satisfies RetourRequest,
        (r) => r.crees.length,
      ),
    stats: () => queue.stats(),
    queued: () => queue.queued(),
    onCommit: (listener) => queue.onCommit(listener),
  };
}
