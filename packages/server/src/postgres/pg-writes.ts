import type pg from 'pg';
import type { WriteStorage } from '../storage/storage.js';
import { createPgRetourWrites } from './pg-retour-writes.js';
import { createPgSaleWrites } from './pg-sale-writes.js';
import { createPgWriteQueue, DEFAULT_PG_WRITE_QUEUE_LIMITS, type PgWriteQueueLimits, type PgWriteStats } from './pg-write-queue.js';

/**
 * The PostgreSQL write path (storage.ts's WriteStorage): sales and returns share one bounded
 * queue in front of the connections, as they share the group commit on SQLite.
 */
export function createPgWrites(pool: pg.Pool, where: string, limits: Partial<PgWriteQueueLimits> = {}): WriteStorage & { stats(): Readonly<PgWriteStats> } {
  const queue = createPgWriteQueue({ ...DEFAULT_PG_WRITE_QUEUE_LIMITS, ...limits });
  const sales = createPgSaleWrites(pool, where, queue);
  const retours = createPgRetourWrites(pool, where, queue);
  return {
    sales: (terminal, items, receivedAt, options, bytes) => sales.sales(terminal, items, receivedAt, options, bytes),
    retours: (terminal, items, receivedAt, bytes) => retours.retours(terminal, items, receivedAt, bytes),
    stats: () => queue.stats(),
    queued: () => queue.queued(),
    onCommit: (listener) => queue.onCommit(listener),
  };
}
