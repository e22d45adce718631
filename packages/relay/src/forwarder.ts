import { backoffDelay, NETWORK_RETRY, type RetryPolicy, STOCK_RETRY, type StockRetryPolicy } from './backoff.js';
import type { SyncResponse } from '@ventesync/shared';
import { classifyAnswer, type SaleOutcome, type UpstreamAnswer } from './classify.js';
import type { HeldVente, RelayStore } from './relay-store.js';
import type { Upstream } from './upstream.js';

export interface ForwarderConfig {
  batchSize: number;
  intervalMs: number;
  /** Wait after new sales arrive, so that a burst from the tills leaves as one batch. */
  debounceMs: number;
  /** Tills forwarded at the same time, one batch in flight each. */
  parallelTills: number;
  networkRetry: RetryPolicy;
  stockRetry: StockRetryPolicy;
}

export const DEFAULT_FORWARDER_CONFIG: ForwarderConfig = {
  batchSize: 100,
  intervalMs: 30_000,
  debounceMs: 200,
  parallelTills: 4,
  networkRetry: NETWORK_RETRY,
  stockRetry: STOCK_RETRY,
};

export interface ForwardReport {
  envoyees: number;
  synchronisees: number;
  rejetees: number;
  en_attente_stock: number;
  erreurs: string[];
}

/** A log line names at most this many refused sales; `pnpm relay rejected` lists them all. */
const MAX_LOGGED_REFUSALS = 10;

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Sends held sales to the server, per till (with its own serial), oldest first, in batches.
 * Delivery is at-least-once and made exactly-once by the numero: a sale is marked synced only
 * from the server's own answer, so a crash or a lost answer just means sending it again, and
 * the server then answers DUPLICATE with identique: true.
 */
export function createForwarder(deps: {
  store: RelayStore;
  upstream: Upstream;
  config: ForwarderConfig;
  logger: Logger;
  now?: () => Date;
  random?: () => number;
}) {
  const { store, upstream, config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;

  // Per-till backoff after a failed batch; in memory: after a restart, trying at once is right.
  const backoff = new Map<string, { failures: number; until: number }>();
  // Halved after a 413, for the till whose batch the server found too large.
  const batchSizes = new Map<string, number>();
  let running: Promise<ForwardReport> | null = null;
  let again = false;
  let stopped = false;
  let abort = new AbortController();
  let intervalTimer: NodeJS.Timeout | undefined;
  let debounceTimer: NodeJS.Timeout | undefined;
  let wakeTimer: NodeJS.Timeout | undefined;

  /** Records what the answer says of each sale; runs inside the batch's one transaction. */
  function applyOutcome(batch: HeldVente[], sales: SaleOutcome[], at: Date, report: ForwardReport): void {
    sales.forEach((sale, i) => {
      const held = batch[i]!;
      if (sale.kind === 'synced') {
        store.markSynced(held.id, sale.montant, at);
        report.synchronisees++;
      } else if (sale.kind === 'rejected') {
        store.markRejected(held.id, sale.code, sale.erreur, at);
        report.rejetees++;
      } else if (sale.kind === 'stock') {
        if (held.tentatives_stock + 1 >= config.stockRetry.maxAttempts) {
          store.markRejected(held.id, 'INSUFFICIENT_STOCK', `${sale.erreur} (après ${held.tentatives_stock + 1} essais)`, at);
          report.rejetees++;
        } else {
          const delay = backoffDelay(held.tentatives_stock, config.stockRetry, random);
          store.scheduleStockRetry(held.id, sale.erreur, new Date(at.getTime() + Math.max(delay, config.stockRetry.baseMs / 2)), at);
          report.en_attente_stock++;
        }
      }
    });
  }

  /** One line per batch; with refusals, which sales and why (the server's own words). */
  function logBatchAnswer(serial: string, batch: HeldVente[], sales: SaleOutcome[]): void {
    const refusals = batch.flatMap((v, i) => {
      const sale = sales[i]!;
      if (sale.kind === 'rejected') return [{ numero_facture: v.numero_facture, code: sale.code, erreur: sale.erreur }];
      if (sale.kind === 'stock') return [{ numero_facture: v.numero_facture, code: 'INSUFFICIENT_STOCK', erreur: sale.erreur }];
      return [];
    });
    const synced = sales.filter((sale) => sale.kind === 'synced').length;
    const base = `Lot de ${batch.length} vente(s) transmis pour le terminal ${serial} : ${synced} synchronisée(s)`;
    if (refusals.length === 0) return logger.info({ serial, envoyees: batch.length, synchronisees: synced }, base);
    const first = refusals[0]!;
    logger.warn(
      { serial, envoyees: batch.length, synchronisees: synced, refus: refusals.slice(0, MAX_LOGGED_REFUSALS) },
      `${base}, ${refusals.length} refusée(s) par le serveur, dont ${first.numero_facture} (${first.code}) : ${first.erreur}`,
    );
  }

  /** A sync answer names the boutique and the till: what the relay shows staff. */
  function learnTerminal(serial: string, answer: UpstreamAnswer): void {
    if (answer.kind !== 'response') return;
    const body = answer.body as Partial<SyncResponse>;
    if (typeof body.boutique_id !== 'number') return;
    store.saveTerminal(
      serial,
      'CONNU',
      { boutique_id: body.boutique_id, boutique_nom: body.boutique_nom ?? null, terminal_nom: body.terminal ?? null },
      now(),
    );
  }

  /**
   * Sends one batch and records everything it taught in a single transaction: with
   * synchronous=FULL each commit is an fsync, and the relay's bookkeeping must not cost more
   * disk flushes than the server's own write of the batch.
   */
  async function sendBatch(serial: string, report: ForwardReport): Promise<'more' | 'done' | 'failed'> {
    const size = batchSizes.get(serial) ?? config.batchSize;
    const batch = store.dueBatch(serial, now(), size);
    if (batch.length === 0) return 'done';
    const answer = await upstream.postSync(serial, `[${batch.map((v) => v.contenu).join(',')}]`, abort.signal);
    const outcome = classifyAnswer(answer, batch.map((v) => v.numero_facture));
    const at = now();
    report.envoyees += batch.length;

    if (outcome.kind === 'answered') {
      const unmentioned = outcome.sales.filter((sale) => sale.kind === 'unknown').length;
      if (unmentioned === 0) backoff.delete(serial);
      store.transaction(() => {
        store.countAttempt(batch.map((v) => v.id));
        applyOutcome(batch, outcome.sales, at, report);
        batch.forEach((v, i) => {
          if (outcome.sales[i]!.kind === 'unknown') store.recordAttempt(v.id, at, 'SANS_REPONSE', null, 'Absente de la réponse du serveur');
        });
        learnTerminal(serial, answer);
        store.recordTerminalSync(serial, at);
        store.recordServerAnswered(true, at);
        store.setEtat('derniere_sync', at.toISOString());
      });
      logBatchAnswer(serial, batch, outcome.sales);
      if (unmentioned > 0) {
        // The server did not account for some sales: resending them at once would loop.
        holdOff(serial, null, at, `${unmentioned} vente(s) absente(s) de la réponse du serveur`, report);
        return 'failed';
      }
      return batch.length === size ? 'more' : 'done';
    }
    if (outcome.kind === 'too-large' && size > 1) {
      batchSizes.set(serial, Math.max(1, Math.floor(size / 2)));
      logger.warn({ serial, taille: size }, `Lot trop gros pour le serveur : essai par ${Math.floor(size / 2)}`);
      return 'more';
    }
    const reason = outcome.reason;
    store.transaction(() => {
      store.countAttempt(batch.map((v) => v.id), { at, reason });
      if (outcome.kind === 'terminal-unknown') {
        const terminal = store.terminal(serial);
        store.saveTerminal(
          serial,
          'INCONNU',
          { boutique_id: terminal?.boutique_id ?? null, boutique_nom: terminal?.boutique_nom ?? null, terminal_nom: terminal?.terminal_nom ?? null },
          at,
        );
      }
      store.recordTerminalError(serial, reason, at);
      store.recordServerAnswered(answer.kind === 'response', at);
      store.setEtats({ derniere_erreur: reason, derniere_erreur_le: at.toISOString() });
    });
    holdOff(serial, 'retryAfterMs' in outcome ? outcome.retryAfterMs : null, at, reason, report);
    return 'failed';
  }

  /** Backs off a till after a failed batch: exponential with full jitter, or Retry-After if longer. */
  function holdOff(serial: string, retryAfterMs: number | null, at: Date, reason: string, report: ForwardReport): void {
    const failures = (backoff.get(serial)?.failures ?? 0) + 1;
    const delay = Math.max(backoffDelay(failures - 1, config.networkRetry, random), retryAfterMs ?? 0);
    backoff.set(serial, { failures, until: at.getTime() + delay });
    report.erreurs.push(`${serial} : ${reason}`);
    logger.warn({ serial, echecs: failures, nouvel_essai_dans_ms: delay }, `Envoi impossible, nouvel essai plus tard : ${reason}`);
  }

  /**
   * Tills are drained side by side, one batch in flight per till (as the tills themselves
   * would post): a backlog after an outage then reaches the server at its multi-till rate.
   * Each till's own sales still leave oldest first.
   */
  async function runPass(): Promise<ForwardReport> {
    const report: ForwardReport = { envoyees: 0, synchronisees: 0, rejetees: 0, en_attente_stock: 0, erreurs: [] };
    const due = store.serialsDue(now()).filter((serial) => (backoff.get(serial)?.until ?? 0) <= now().getTime());
    const drainTill = async (serial: string) => {
      let step: 'more' | 'done' | 'failed' = 'more';
      while (step === 'more' && !stopped) step = await sendBatch(serial, report);
    };
    for (let i = 0; i < due.length; i += config.parallelTills) {
      await Promise.all(due.slice(i, i + config.parallelTills).map(drainTill));
    }
    return report;
  }

  /** Wakes up when the earliest backoff or stock retry falls due, not only on the interval. */
  function scheduleWake(): void {
    if (stopped) return;
    clearTimeout(wakeTimer);
    const times = [...backoff.values()].map((b) => b.until);
    const due = store.nextDue();
    if (due) times.push(Date.parse(due));
    const next = Math.min(...times);
    if (!Number.isFinite(next)) return;
    wakeTimer = setTimeout(() => void runOnce(), Math.max(50, next - now().getTime()));
    wakeTimer.unref();
  }

  /** One pass over every till with sales due; concurrent calls share the pass in progress. */
  function runOnce(): Promise<ForwardReport> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        let report = await runPass();
        while (again && !stopped) {
          again = false;
          const more = await runPass();
          report = {
            envoyees: report.envoyees + more.envoyees,
            synchronisees: report.synchronisees + more.synchronisees,
            rejetees: report.rejetees + more.rejetees,
            en_attente_stock: report.en_attente_stock + more.en_attente_stock,
            erreurs: [...report.erreurs, ...more.erreurs],
          };
        }
        return report;
      } catch (error) {
        logger.error({ err: error }, 'Erreur inattendue pendant la transmission');
        throw error;
      } finally {
        running = null;
        scheduleWake();
      }
    })();
    return running;
  }

  return {
    runOnce,
    /** Forget backoffs: a person asked for a sync now. */
    syncNow(): Promise<ForwardReport> {
      backoff.clear();
      return runOnce();
    },
    /** New sales arrived: forward them shortly, as one batch if they came in a burst. */
    notify(): void {
      if (stopped) return;
      clearTimeout(debounceTimer);
      debounceTimer = setTimeout(() => void runOnce().catch(() => {}), config.debounceMs);
      debounceTimer.unref();
    },
    start(): void {
      stopped = false;
      abort = new AbortController();
      void runOnce().catch(() => {});
      intervalTimer = setInterval(() => void runOnce().catch(() => {}), config.intervalMs);
      intervalTimer.unref();
    },
    /** Stops the timers and abandons the batch in flight: its sales stay EN_ATTENTE, safely. */
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(intervalTimer);
      clearTimeout(debounceTimer);
      clearTimeout(wakeTimer);
      abort.abort();
      await running?.catch(() => {});
    },
  };
}

export type Forwarder = ReturnType<typeof createForwarder>;
