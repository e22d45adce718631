import { performance } from 'node:perf_hooks';
import type { Db } from './db/open-database.js';

/**
 * Most sales a group writes under one commit; the rest wait for the next group. Every answer
 * of a group waits for its commit, so a request also waits for the ones written after it in
 * its group: at about 50 µs a sale, 250 sales keep that under 15 ms. The fsync saved by larger
 * groups is worth less than that once a group holds this many (batch 100 × 4 tills: p99 and
 * throughput both better than with 2,000). A request is never split: one larger than the
 * bound (up to 500 sales) is a group of its own.
 */
export const MAX_GROUP_SALES = 250;
/** Most request bytes (bodies as received) a group holds. */
export const MAX_GROUP_BYTES = 16 * 1024 * 1024;
/**
 * Most requests waiting for their group; past it a request is turned away with 503. Of the
 * connection cap's order: a burst of one-sale tills, one request each, all fits (~200 kB of
 * work); the bytes and sales bounds are what keep big batches from piling up.
 */
export const MAX_QUEUED_REQUESTS = 4096;
/** Most sales waiting: 200 full groups, a few seconds of writing. */
export const MAX_QUEUED_SALES = 50_000;
/** Most request bytes waiting, so that a burst of big batches cannot hold the memory. */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

export interface GroupCommitLimits {
  maxGroupSales: number;
  maxGroupBytes: number;
  maxQueuedRequests: number;
  maxQueuedSales: number;
  maxQueuedBytes: number;
}

export const DEFAULT_GROUP_COMMIT_LIMITS: Readonly<GroupCommitLimits> = Object.freeze({
  maxGroupSales: MAX_GROUP_SALES,
  maxGroupBytes: MAX_GROUP_BYTES,
  maxQueuedRequests: MAX_QUEUED_REQUESTS,
  maxQueuedSales: MAX_QUEUED_SALES,
  maxQueuedBytes: MAX_QUEUED_BYTES,
});

/**
 * Whether a request of `sales` and `bytes` is turned away by a queue holding `queued` (the
 * same rule for SQLite's group commit and PostgreSQL's queue). An empty queue takes any
 * request: one batch alone is bounded by the body limit.
 */
export function queueFull(
  limits: Pick<GroupCommitLimits, 'maxQueuedRequests' | 'maxQueuedBytes' | 'maxQueuedSales'>,
  queued: { requests: number; bytes: number; sales: number },
  sales: number,
  bytes: number,
): boolean {
  return (
    queued.requests >= limits.maxQueuedRequests ||
    (queued.requests > 0 && (queued.bytes + bytes > limits.maxQueuedBytes || queued.sales + sales > limits.maxQueuedSales))
  );
}

/** What the writer counted since it started: the bench reads it, operators see it at shutdown. */
export interface GroupCommitStats {
  /** Commits that wrote at least one sale: one fsync of the WAL each (synchronous=FULL). */
  commits: number;
  /** Requests of those groups. */
  requests: number;
  /** Sales written (created) by those groups: no duplicate, refused sale or request that threw. */
  salesWritten: number;
  maxGroupRequests: number;
  /** Most sales written by one commit. */
  maxGroupSales: number;
  /** Groups that failed as a whole (at BEGIN, COMMIT, or an error that ended the transaction). */
  failedGroups: number;
  /** Requests turned away because the queue was full. */
  refused: number;
}

interface Pending<T> {
  sales: number;
  bytes: number;
  write: () => T;
  /** Sales the write's result says were written. */
  written: (result: T) => number;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit. Requests hand their write to `submit` and wait; the queue is written on the
 * next turn of the event loop in one `BEGIN IMMEDIATE … COMMIT` (one fsync for all), each
 * request's write running as a savepoint of it. better-sqlite3 blocks the event loop during a
 * commit, so the requests that arrive meanwhile wait in the socket buffers, are parsed on the
 * next turn, and form the next group: grouping comes from the fsync itself, never from a timer,
 * and a lone request on an idle server is written at once.
 *
 * Answers leave only after the commit holding their sales. A request whose write throws rolls
 * back to its savepoint alone; the others of its group still commit. An error that ends the
 * transaction itself (SQLITE_BUSY, SQLITE_FULL, an I/O error: SQLite rolls back on its own)
 * fails every request of the group with that error, since nothing of theirs was kept: none
 * carries on outside a transaction.
 */
export function createGroupCommit(
  db: Db,
  limits: Readonly<GroupCommitLimits> = DEFAULT_GROUP_COMMIT_LIMITS,
  /** Seconds from BEGIN to COMMIT of each group that wrote a sale (the metrics' histogram). */
  onCommit?: (seconds: number) => void,
) {
  let queue: Array<Pending<unknown>> = [];
  let queuedBytes = 0;
  let queuedSales = 0;
  let scheduled = false;
  const stats: GroupCommitStats = {
    commits: 0,
    requests: 0,
    salesWritten: 0,
    maxGroupRequests: 0,
    maxGroupSales: 0,
    failedGroups: 0,
    refused: 0,
  };
  // A request's savepoint keeps, until it is released, the original of every page the request
  // changed (SQLite's sub-journal). Past 64 KiB that journal spills to a temporary file: a batch
  // of 100 sales then paid a third of its time in file writes. In memory it costs at most the
  // pages one request touches, and nothing of it needs to survive a crash.
  db.pragma('temp_store = MEMORY');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  // Inside the group's open transaction better-sqlite3 makes this a SAVEPOINT: a request that
  // throws is rolled back to it, whatever it had written, and the group goes on.
  const inSavepoint = db.transaction((write: () => unknown) => write());

  function takeGroup(): Array<Pending<unknown>> {
    let sales = 0;
    let bytes = 0;
    let n = 0;
    // At least one request, however big: a single request is bounded by the body limit.
    while (n < queue.length) {
      const p = queue[n]!;
      if (n > 0 && (sales + p.sales > limits.maxGroupSales || bytes + p.bytes > limits.maxGroupBytes)) break;
      sales += p.sales;
      bytes += p.bytes;
      n++;
    }
    const group = queue.slice(0, n);
    queue = queue.slice(n);
    queuedBytes -= bytes;
    queuedSales -= sales;
    return group;
  }

  function failAll(group: Array<Pending<unknown>>, error: unknown): void {
    stats.failedGroups++;
    for (const p of group) p.reject(error);
  }

  function writeGroup(): void {
    scheduled = false;
    const group = takeGroup();
    // What did not fit waits for the next turn, after this group's answers are on their way.
    if (queue.length > 0) schedule();
    if (group.length === 0) return;

    const startedAt = performance.now();
    try {
      begin.run();
    } catch (error) {
      failAll(group, error);
      return;
    }
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    for (const p of group) {
      try {
        results.push({ ok: true, value: inSavepoint(p.write) });
      } catch (error) {
        // The one check that the group's transaction is still open: a write that ended it
        // always lands here, since releasing its savepoint then fails.
        if (!db.inTransaction) {
          // SQLite ended the whole transaction: the group's earlier writes are gone too.
          failAll(group, error);
          return;
        }
        results.push({ ok: false, error });
      }
    }
    try {
      commit.run();
    } catch (error) {
      if (db.inTransaction) {
        try {
          rollback.run();
        } catch {
          // The transaction is gone either way; the error that matters is the commit's.
        }
      }
      failAll(group, error);
      return;
    }

    let written = 0;
    for (let i = 0; i < group.length; i++) {
      const r = results[i]!;
      if (r.ok) written += group[i]!.written(r.value);
    }
    // A commit that changed nothing does no fsync in WAL mode: not counted as one.
    if (written > 0) {
      onCommit?.((performance.now() - startedAt) / 1000);
      stats.commits++;
      stats.requests += group.length;
      stats.salesWritten += written;
      if (group.length > stats.maxGroupRequests) stats.maxGroupRequests = group.length;
      if (written > stats.maxGroupSales) stats.maxGroupSales = written;
    }
    for (let i = 0; i < group.length; i++) {
      const r = results[i]!;
      if (r.ok) group[i]!.resolve(r.value);
      else group[i]!.reject(r.error);
    }
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(writeGroup);
  }

  return {
    /**
     * Queues a write for the next group and resolves with its result once the group's commit
     * is durable; rejects with what it threw, or with the error that failed the whole group.
     * Returns null, queuing nothing, when the queue is full: the caller answers 503.
     * `sales` and `bytes` are what the request weighs against the bounds; `written` reads from
     * the write's result how many sales it wrote, for the counters.
     */
    submit<T>(sales: number, bytes: number, write: () => T, written: (result: T) => number = () => 0): Promise<T> | null {
      if (queueFull(limits, { requests: queue.length, bytes: queuedBytes, sales: queuedSales }, sales, bytes)) {
        stats.refused++;
        return null;
      }
      return new Promise<T>((resolve, reject) => {
        queue.push({
          sales,
          bytes,
          write,
          written: written as (result: unknown) => number,
          resolve: resolve as (value: unknown) => void,
          reject,
        });
        queuedBytes += bytes;
        queuedSales += sales;
        schedule();
      });
    },
    stats(): Readonly<GroupCommitStats> {
      return { ...stats };
    },
    /** Requests waiting for their group now. */
    queued(): number {
      return queue.length;
    },
  };
}

export type GroupCommit = ReturnType<typeof createGroupCommit>;
