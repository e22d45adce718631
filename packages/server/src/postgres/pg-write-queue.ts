import { performance } from 'node:perf_hooks';
import { MAX_QUEUED_BYTES, MAX_QUEUED_REQUESTS, MAX_QUEUED_SALES } from '../group-commit.js';
import type { GroupCommitStats } from '../group-commit.js';

/**
 * Write requests running at once on PostgreSQL, each on its own connection and transaction.
 * PostgreSQL groups the WAL flushes of concurrent commits by itself (one fsync for the commits
 * that arrive during the previous one), so a few transactions in flight is what makes groups;
 * more only queue on the boutique locks and the disk. Below the pool's ten (PG_POOL_MAX): two
 * connections stay free for the reads (history, statistics, reconciliation).
 */
export const PG_MAX_CONCURRENT_WRITES = 8;

export interface PgWriteQueueLimits {
  maxConcurrent: number;
  maxQueuedRequests: number;
  maxQueuedSales: number;
  maxQueuedBytes: number;
}

/** The SQLite group commit's queue bounds (same meaning: what may wait), and the concurrency above. */
export const DEFAULT_PG_WRITE_QUEUE_LIMITS: Readonly<PgWriteQueueLimits> = Object.freeze({
  maxConcurrent: PG_MAX_CONCURRENT_WRITES,
  maxQueuedRequests: MAX_QUEUED_REQUESTS,
  maxQueuedSales: MAX_QUEUED_SALES,
  maxQueuedBytes: MAX_QUEUED_BYTES,
});

/**
 * The group commit's counters, read the same way by the bench and at shutdown. On PostgreSQL a
 * "group" is one request's transaction: maxGroupRequests stays 1, commits counts transactions
 * that wrote a sale. `retries`: transactions run again after a deadlock, a serialization
 * failure or a numero written meanwhile by a writer that does not take the boutique lock.
 */
export interface PgWriteStats extends GroupCommitStats {
  retries: number;
}

interface Waiting {
  sales: number;
  bytes: number;
  start: () => void;
}

/**
 * A bounded queue in front of the connections: at most `maxConcurrent` writes run, the others
 * wait in arrival order; past the waiting bounds a request is turned away at once (null, the
 * route answers 503 OVERLOADED), so a burst never piles up unbounded memory or connections.
 */
export function createPgWriteQueue(limits: Readonly<PgWriteQueueLimits> = DEFAULT_PG_WRITE_QUEUE_LIMITS) {
  const waiting: Waiting[] = [];
  let queuedSales = 0;
  let queuedBytes = 0;
  let running = 0;
  const commitListeners: Array<(seconds: number) => void> = [];
  const stats: PgWriteStats = {
    commits: 0,
    requests: 0,
    salesWritten: 0,
    maxGroupRequests: 0,
    maxGroupSales: 0,
    failedGroups: 0,
    refused: 0,
    retries: 0,
  };

  function next(): void {
    while (running < limits.maxConcurrent && waiting.length > 0) {
      const w = waiting.shift()!;
      queuedSales -= w.sales;
      queuedBytes -= w.bytes;
      w.start();
    }
  }

  return {
    /**
     * Runs `write` when a slot is free; null, running nothing, when the queue is full. `written`
     * reads from the result how many sales it wrote, for the counters.
     */
    submit<T>(sales: number, bytes: number, write: () => Promise<T>, written: (result: T) => number = () => 0): Promise<T> | null {
      // An empty queue takes any request: one batch alone is bounded by the body limit.
      const full =
        waiting.length >= limits.maxQueuedRequests ||
        (waiting.length > 0 && (queuedBytes + bytes > limits.maxQueuedBytes || queuedSales + sales > limits.maxQueuedSales));
      if (full) {
        stats.refused++;
        return null;
      }
      return new Promise<T>((resolve, reject) => {
        const start = () => {
          running++;
          const startedAt = performance.now();
          write().then(
            (result) => {
              const n = written(result);
              if (n > 0) {
                const seconds = (performance.now() - startedAt) / 1000;
                for (const listener of commitListeners) listener(seconds);
                stats.commits++;
                stats.requests++;
                stats.salesWritten += n;
                stats.maxGroupRequests = 1;
                if (n > stats.maxGroupSales) stats.maxGroupSales = n;
              }
              running--;
              next();
              resolve(result);
            },
            (error: unknown) => {
              stats.failedGroups++;
              running--;
              next();
              reject(error);
            },
          );
        };
        waiting.push({ sales, bytes, start });
        queuedSales += sales;
        queuedBytes += bytes;
        next();
      });
    },
    /** Told the seconds of each write that wrote something, from its start to its commit (the metrics' histogram). */
    onCommit(listener: (seconds: number) => void): void {
      commitListeners.push(listener);
    },
    retried(): void {
      stats.retries++;
    },
    stats(): Readonly<PgWriteStats> {
      return { ...stats };
    },
    /** Requests waiting for a slot now. */
    queued(): number {
      return waiting.length;
    },
  };
}

export type PgWriteQueue = ReturnType<typeof createPgWriteQueue>;
