import { Counter, createMetricsRegistry, Gauge, Histogram, METRIC_PREFIX, type Registry } from '@ventesync/runtime/metrics';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { BatchOutcome, UpstreamAnswer } from './classify.js';
import type { Db } from './db/open-database.js';
import type { RelayStore } from './relay-store.js';
import { serverReachable } from './server-reach.js';
import type { Upstream } from './upstream.js';

/** This package's version, for `ventesync_build_info` and `/ready` (read once, src or dist alike). */
export const RELAY_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The queue is read from the relay's file at most this often, however often `/metrics` and
 * `/ready` are asked: counting a backlog of 100,000 sales costs milliseconds, and a scraper
 * gone mad must not take them from the forwarding.
 */
export const QUEUE_READ_INTERVAL_MS = 1_000;

/** Seconds: a server on the same network answers in milliseconds; the default deadline is 30 s. */
export const UPSTREAM_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The queue as one read sees it: disjoint states of the sales not yet settled. */
export interface QueueSnapshot {
  /** Waiting to be sent (stock retries included), not in flight. */
  en_attente: number;
  /** Being sent right now. */
  en_vol: number;
  /** Refused by the server: waiting for a person (retry or discard). */
  rejetee: number;
  /** When the oldest waiting sale or return was received (ISO), null when none waits. */
  plus_ancienne: string | null;
  /** Returns (issue 10) held the same way, in the same disjoint states. */
  retours: { en_attente: number; en_vol: number; rejetee: number };
}

const FORWARD_OUTCOMES = ['answered', 'retry', 'failed', 'too-large', 'terminal-unknown'] as const;
const SALE_OUTCOMES = ['synced', 'rejected', 'stock', 'unknown'] as const;

/**
 * The relay's metrics: its queue and its last success read from its file when scraped (at
 * most every `queueReadIntervalMs`), its forwards counted as they happen (a few increments a
 * batch), the server's answer times measured around each request to it.
 */
export function createRelayMetrics(
  db: Db,
  store: RelayStore,
  options: { version?: string; now?: () => Date; monotonic?: () => number; queueReadIntervalMs?: number } = {},
) {
  const now = options.now ?? (() => new Date());
  const mono = options.monotonic ?? (() => performance.now());
  const interval = options.queueReadIntervalMs ?? QUEUE_READ_INTERVAL_MS;
  const registry: Registry = createMetricsRegistry(options.version ?? RELAY_VERSION);
  const readQueue = db.prepare<[], { en_attente: number; en_vol: number; rejetee: number; plus_ancienne: string | null }>(`
    SELECT COALESCE(SUM(statut = 'EN_ATTENTE' AND en_vol IS NULL), 0) AS en_attente,
      COALESCE(SUM(statut = 'EN_ATTENTE' AND en_vol IS NOT NULL), 0) AS en_vol,
      COALESCE(SUM(statut = 'REJETEE'), 0) AS rejetee,
      MIN(CASE WHEN statut = 'EN_ATTENTE' THEN recue_le END) AS plus_ancienne
    FROM ventes WHERE statut IN ('EN_ATTENTE', 'REJETEE')`);
  const readRetours = db.prepare<[], { en_attente: number; en_vol: number; rejetee: number; plus_ancienne: string | null }>(`
    SELECT COALESCE(SUM(statut = 'EN_ATTENTE' AND en_vol IS NULL), 0) AS en_attente,
      COALESCE(SUM(statut = 'EN_ATTENTE' AND en_vol IS NOT NULL), 0) AS en_vol,
      COALESCE(SUM(statut = 'REJETEE'), 0) AS rejetee,
      MIN(CASE WHEN statut = 'EN_ATTENTE' THEN recue_le END) AS plus_ancienne
    FROM retours WHERE statut IN ('EN_ATTENTE', 'REJETEE')`);
  // Both reads in one snapshot of the file: a return and its sale are never counted half-moved.
  const readBoth = db.transaction((): QueueSnapshot => {
    const ventes = readQueue.get()!;
    const { plus_ancienne, ...retours } = readRetours.get()!;
    const oldest = [ventes.plus_ancienne, plus_ancienne].filter((d): d is string => d !== null).sort()[0] ?? null;
    return { ...ventes, plus_ancienne: oldest, retours };
  });
  let last: { at: number; snapshot: QueueSnapshot } | null = null;
  function queue(): QueueSnapshot {
    const t = mono();
    if (last === null || t - last.at >= interval || t < last.at) last = { at: t, snapshot: readBoth() };
    return last.snapshot;
  }
  const secondsSince = (iso: string | null) => (iso === null ? 0 : Math.max(0, (now().getTime() - Date.parse(iso)) / 1000));

  new Gauge({
    name: `${METRIC_PREFIX}relay_queue_sales`,
    help: 'Ventes gardées par le relais et non réglées, par état (en_attente, en_vol, rejetee)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const q = queue();
      this.set({ state: 'en_attente' }, q.en_attente);
      this.set({ state: 'en_vol' }, q.en_vol);
      this.set({ state: 'rejetee' }, q.rejetee);
    },
  });
  // Apart from the sales' gauge, with the same states: a dashboard summing sales keeps its meaning.
  new Gauge({
    name: `${METRIC_PREFIX}relay_queue_returns`,
    help: 'Retours gardés par le relais et non réglés, par état (en_attente, en_vol, rejetee)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const q = queue().retours;
      this.set({ state: 'en_attente' }, q.en_attente);
      this.set({ state: 'en_vol' }, q.en_vol);
      this.set({ state: 'rejetee' }, q.rejetee);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}relay_oldest_pending_age_seconds`,
    help: 'Âge de la plus ancienne vente ou du plus ancien retour en attente (0 quand rien n’attend)',
    registers: [registry],
    collect() {
      this.set(secondsSince(queue().plus_ancienne));
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}relay_last_success_timestamp_seconds`,
    help: 'Dernier lot accepté par le serveur, secondes Unix (0 : jamais)',
    registers: [registry],
    collect() {
      const at = Date.parse(store.getEtat('derniere_sync') ?? '');
      this.set(Number.isNaN(at) ? 0 : at / 1000);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}relay_server_reachable`,
    help: 'Le serveur central prend les ventes (1), ne répond pas ou les refuse toutes (0)',
    registers: [registry],
    collect() {
      // Answering is not enough: a server failing every sale is not reached for them.
      this.set(serverReachable(store) === true ? 1 : 0);
    },
  });
  const forwards = new Counter({
    name: `${METRIC_PREFIX}relay_forwards_total`,
    help: 'Lots envoyés au serveur, par issue (answered, retry, failed, too_large, terminal_unknown)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const forwardedSales = new Counter({
    name: `${METRIC_PREFIX}relay_forwarded_sales_total`,
    help: 'Ventes des lots auxquels le serveur a répondu, par verdict (synced, rejected, stock, unknown)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const upstreamDuration = new Histogram({
    name: `${METRIC_PREFIX}relay_upstream_duration_seconds`,
    help: 'Durée des requêtes au serveur central, par opération (sync, retours, read) et issue (response, network_error)',
    labelNames: ['operation', 'outcome'],
    buckets: UPSTREAM_DURATION_BUCKETS,
    registers: [registry],
  });
  // Every label value known in advance: each series shows from the first scrape, at 0.
  const forwardOf = Object.fromEntries(FORWARD_OUTCOMES.map((o) => [o, forwards.labels({ outcome: o.replace('-', '_') })]));
  const saleOf = Object.fromEntries(SALE_OUTCOMES.map((o) => [o, forwardedSales.labels({ outcome: o })]));

  return {
    registry,
    queue,
    /** A batch's answer, as the forwarder classified it. */
    forwarded(outcome: BatchOutcome): void {
      forwardOf[outcome.kind]?.inc();
      if (outcome.kind !== 'answered') return;
      for (const sale of outcome.sales) saleOf[sale.kind]?.inc();
    },
    /** The same server, each request to it timed (forwarding, the tills' reads through the relay). */
    instrument(upstream: Upstream): Upstream {
      const timed = async (operation: 'sync' | 'retours' | 'read', send: () => Promise<UpstreamAnswer>) => {
        const startedAt = mono();
        const answer = await send();
        upstreamDuration.observe({ operation, outcome: answer.kind === 'response' ? 'response' : 'network_error' }, (mono() - startedAt) / 1000);
        return answer;
      };
      return {
        ...upstream,
        postSync: (serial, body, signal) => timed('sync', () => upstream.postSync(serial, body, signal)),
        postRetours: (serial, body, signal) => timed('retours', () => upstream.postRetours(serial, body, signal)),
        get: (pathAndQuery, serial, deadlineMs) => timed('read', () => upstream.get(pathAndQuery, serial, deadlineMs)),
      };
    },
  };
}

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
