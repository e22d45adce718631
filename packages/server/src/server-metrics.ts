import { readFileSync } from 'node:fs';
import { Counter, createMetricsRegistry, Gauge, Histogram, METRIC_PREFIX, type Registry } from '@ventesync/runtime/metrics';
import type { SalesOutcome } from '@ventesync/shared';

/**
 * Most boutiques counted each under its own label; sales of any further one are counted under
 * `boutique="autres"`. A chain has tens of boutiques: this bound only keeps a mistake (ids
 * made up by a fixture, a test) from growing the scrape without end.
 */
export const MAX_BOUTIQUE_SERIES = 500;
export const OTHER_BOUTIQUES = 'autres';

/** Sales per sync request: the tills send 1, the relay up to 100, the contract allows 500. */
export const BATCH_SALES_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500];
/** Seconds from BEGIN to the durable COMMIT of one group: an fsync is ~1–20 ms on a sound disk. */
export const COMMIT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The server's metrics. On the sync path they cost a few counter increments per request
 * (counts already known from the write's outcome); the database size is read only when
 * scraped (SQLite: two pragmas, no table read).
 */
export function createServerMetrics(databaseSizeBytes: () => Promise<number>, version: string) {
  const registry: Registry = createMetricsRegistry(version);
  const received = new Counter({
    name: `${METRIC_PREFIX}sales_received_total`,
    help: 'Ventes reçues par le point de synchronisation, par issue (created, duplicate, rejected) et code de refus',
    labelNames: ['outcome', 'code'],
    registers: [registry],
  });
  const perBoutique = new Counter({
    name: `${METRIC_PREFIX}boutique_sales_total`,
    help: 'Ventes créées, par boutique (identifiant)',
    labelNames: ['boutique'],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: `${METRIC_PREFIX}sync_batch_sales`,
    help: 'Ventes par requête de synchronisation',
    buckets: BATCH_SALES_BUCKETS,
    registers: [registry],
  });
  const commitDuration = new Histogram({
    name: `${METRIC_PREFIX}commit_duration_seconds`,
    help: "Durée d'une écriture groupée, du BEGIN au COMMIT durable (fsync compris)",
    buckets: COMMIT_DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: `${METRIC_PREFIX}database_size_bytes`,
    help: 'Taille de la base (SQLite : page_count × page_size, hors journal WAL ; PostgreSQL : pg_database_size)',
    registers: [registry],
    async collect() {
      this.set(await databaseSizeBytes());
    },
  });
  // Children bound once: the hot path then skips label hashing for the common outcomes.
  const created = received.labels({ outcome: 'created' });
  const duplicate = received.labels({ outcome: 'duplicate', code: 'DUPLICATE' });
  const boutiques = new Map<number, Counter.Internal>();
  const boutiqueCounter = (id: number) => {
    let child = boutiques.get(id);
    if (!child) {
      child = perBoutique.labels({ boutique: boutiques.size < MAX_BOUTIQUE_SERIES ? String(id) : OTHER_BOUTIQUES });
      if (boutiques.size < MAX_BOUTIQUE_SERIES) boutiques.set(id, child);
    }
    return child;
  };

  return {
    registry,
    /** One sync request's outcome, once committed. */
    recordSync(boutiqueId: number, sales: number, outcome: SalesOutcome): void {
      batchSize.observe(sales);
      const n = outcome.creees.length;
      if (n > 0) {
        created.inc(n);
        boutiqueCounter(boutiqueId).inc(n);
      }
      for (const e of outcome.erreurs) {
        if (e.code === 'DUPLICATE') duplicate.inc();
        else received.inc({ outcome: 'rejected', code: e.code });
      }
    },
    /** A group commit that wrote, in seconds. */
    commitObserved(seconds: number): void {
      commitDuration.observe(seconds);
    },
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;

/** This package's version, for `ventesync_build_info` and `/ready` (read once, src or dist alike). */
export const SERVER_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
