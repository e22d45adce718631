import { performance } from 'node:perf_hooks';
import { MAX_GROUP_SALES, MAX_QUEUED_BYTES, MAX_QUEUED_REQUESTS, MAX_QUEUED_SALES, queueFull } from '../group-commit.js';
import type { GroupCommitStats } from '../group-commit.js';

/**
 * Write transactions running at once on PostgreSQL, each on its own connection. PostgreSQL
 * groups the WAL flushes of concurrent commits by itself, so a few transactions of different
 * boutiques in flight share their fsyncs; more only queue on the disk. Below the pool's ten
 * (PG_POOL_MAX): two connections stay free for the reads (history, statistics, reconciliation).
 */
export const PG_MAX_CONCURRENT_WRITES = 8;

export interface PgWriteQueueLimits {
  maxConcurrent: number;
  /** Most sales one transaction writes for a boutique (several requests); a larger request is alone. */
  maxGroupSales: number;
  maxQueuedRequests: number;
  maxQueuedSales: number;
  maxQueuedBytes: number;
}

/** The SQLite group commit's bounds (same meanings), and the concurrency above. */
export const DEFAULT_PG_WRITE_QUEUE_LIMITS: Readonly<PgWriteQueueLimits> = Object.freeze({
  maxConcurrent: PG_MAX_CONCURRENT_WRITES,
  maxGroupSales: MAX_GROUP_SALES,
  maxQueuedRequests: MAX_QUEUED_REQUESTS,
  maxQueuedSales: MAX_QUEUED_SALES,
  maxQueuedBytes: MAX_QUEUED_BYTES,
});

/**
 * The group commit's counters, read the same way by the bench and at shutdown: a group is one
 * transaction (one boutique's requests). `retries`: transactions run again after a deadlock, a
 * serialization failure or a numero written meanwhile by a writer without the boutique lock.
 */
export interface PgWriteStats extends GroupCommitStats {
  retries: number;
}

/** Writes one group (requests of one boutique and kind, in arrival order): one result per request. */
export type GroupRunner<P, R> = (payloads: P[]) => Promise<R[]>;

interface Waiting {
  key: number;
  kind: string;
  sales: number;
  bytes: number;
  payload: unknown;
  written: (result: unknown) => number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * A bounded queue in front of the connections, grouping per boutique. One transaction per
 * boutique at a time (they would only wait on its advisory lock, holding a connection): the
 * requests of a boutique that arrive while its transaction runs wait, then go together in
 * the next one, with one commit (the fsync is what a durable write costs; SQLite's group commit
 * shares it the same way). Boutiques run in parallel up to `maxConcurrent`. Past the waiting
 * bounds a request is turned away at once (null: the route answers 503 OVERLOADED).
 * `groupable` kinds may share a transaction; the others run one request per transaction.
 */
export function createPgWriteQueue(
  runners: Record<string, { run: GroupRunner<never, unknown>; groupable: boolean }>,
  limits: Readonly<PgWriteQueueLimits> = DEFAULT_PG_WRITE_QUEUE_LIMITS,
) {
  let waiting: Waiting[] = [];
  let queuedSales = 0;
  let queuedBytes = 0;
  const runningKeys = new Set<number>();
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

  function takeGroup(first: Waiting): Waiting[] {
    const group = [first];
    if (!runners[first.kind]!.groupable) return group;
    let sales = first.sales;
    for (const w of waiting) {
      if (w === first || w.key !== first.key) continue;
      // Never past a write of another kind of the same boutique: they stay in arrival order
      // (a return that came first puts its stock back before the sales after it).
      if (w.kind !== first.kind) break;
      if (sales + w.sales > limits.maxGroupSales) break;
      group.push(w);
      sales += w.sales;
    }
    return group;
  }

  function next(): void {
    while (runningKeys.size < limits.maxConcurrent) {
      const first = waiting.find((w) => !runningKeys.has(w.key));
      if (!first) return;
      const group = takeGroup(first);
      const taken = new Set(group);
      waiting = waiting.filter((w) => !taken.has(w));
      for (const w of group) {
        queuedSales -= w.sales;
        queuedBytes -= w.bytes;
      }
      start(group);
    }
  }

  function start(group: Waiting[]): void {
    const key = group[0]!.key;
    runningKeys.add(key);
    const startedAt = performance.now();
    const done = () => {
      runningKeys.delete(key);
      next();
    };
    runners[group[0]!.kind]!.run(group.map((w) => w.payload) as never[]).then(
      (results) => {
        let written = 0;
        for (let i = 0; i < group.length; i++) written += group[i]!.written(results[i]);
        if (written > 0) {
          const seconds = (performance.now() - startedAt) / 1000;
          for (const listener of commitListeners) listener(seconds);
          stats.commits++;
          stats.requests += group.length;
          stats.salesWritten += written;
          if (group.length > stats.maxGroupRequests) stats.maxGroupRequests = group.length;
          if (written > stats.maxGroupSales) stats.maxGroupSales = written;
        }
        done();
        for (let i = 0; i < group.length; i++) group[i]!.resolve(results[i]);
      },
      (error: unknown) => {
        // Nothing of the group was kept (one transaction): every request of it fails.
        stats.failedGroups++;
        done();
        for (const w of group) w.reject(error);
      },
    );
  }

  return {
    /**
     * Queues `payload` for its boutique's next transaction of `kind`; resolves once committed.
     * Null, queuing nothing, when the queue is full. `written` reads from the result how many
     * sales or returns it wrote, for the counters.
     */
    submit<R>(key: number, kind: string, sales: number, bytes: number, payload: unknown, written: (result: R) => number): Promise<R> | null {
      if (queueFull(limits, { requests: waiting.length, bytes: queuedBytes, sales: queuedSales }, sales, bytes)) {
        stats.refused++;
        return null;
      }
      return new Promise<R>((resolve, reject) => {
        waiting.push({
          key,
          kind,
          sales,
          bytes,
          payload,
          written: written as (result: unknown) => number,
          resolve: resolve as (value: unknown) => void,
          reject,
        });
        queuedSales += sales;
        queuedBytes += bytes;
        next();
      });
    },
    /** Told the seconds of each group that wrote something, from its start to its commit (the metrics' histogram). */
    onCommit(listener: (seconds: number) => void): void {
      commitListeners.push(listener);
    },
    retried(): void {
      stats.retries++;
    },
    stats(): Readonly<PgWriteStats> {
      return { ...stats };
    },
    /** Requests waiting for their transaction now. */
    queued(): number {
      return waiting.length;
    },
  };
}

export type PgWriteQueue = ReturnType<typeof createPgWriteQueue>;
