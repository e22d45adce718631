import { storageFailureOf } from '@ventesync/runtime/http';
import { MAX_BODY_BYTES } from '@ventesync/shared';
import { performance } from 'node:perf_hooks';
import { backoffDelay, NETWORK_RETRY, type RetryPolicy, STOCK_RETRY, type StockRetryPolicy, timerDelay } from './backoff.js';
import { type BatchOutcome, classifyAnswer, classifyRetoursAnswer, type SaleOutcome } from './classify.js';
import type { DiskReserve } from './disk-reserve.js';
import { describeWarning, type HeldVente, type RelayStore } from './relay-store.js';
import type { HeldRetour } from './retour-store.js';
import type { Upstream } from './upstream.js';
import { describeError } from './describe-error.js';

export interface ForwarderConfig {
  batchSize: number;
  intervalMs: number;
  /** Wait after new sales arrive, so that a burst from the tills leaves as one batch. */
  debounceMs: number;
  /** The longest that wait lasts while tills keep posting: a steady stream still leaves. */
  debounceMaxMs: number;
  /** Tills forwarded at the same time, one batch in flight each. */
  parallelTills: number;
  networkRetry: RetryPolicy;
  stockRetry: StockRetryPolicy;
  /**
   * The pause of a till after the server refused one of its batches as a whole, before the
   * next, smaller one: splitting a 100-sale batch to find the sale in cause then takes a few
   * requests a second, not hundreds.
   */
  bisectPaceMs: number;
}

/** BISECT_PACE_MS: at most about four refused batches a second per till while one is split. */
export const BISECT_PACE_MS = 250;

export const DEBOUNCE_MAX_MS = 1_000;

export const DEFAULT_FORWARDER_CONFIG: ForwarderConfig = {
  batchSize: 100,
  intervalMs: 30_000,
  debounceMs: 200,
  debounceMaxMs: DEBOUNCE_MAX_MS,
  parallelTills: 4,
  networkRetry: NETWORK_RETRY,
  stockRetry: STOCK_RETRY,
  bisectPaceMs: BISECT_PACE_MS,
};

/**
 * Sends of one sale on its own that the server failed (400, 500, an answer that does not
 * read) before it is REJETEE for a person, with the server's answer kept. A failure counts
 * only when the server answers an empty batch right after: it works, this sale is the trouble.
 */
export const POISON_MAX_ALONE_FAILURES = 3;
/**
 * Different sales that each failed alone, with no batch of the server going through in
 * between: beyond this, the server is broken for every sale, not for these. Nobody is blamed;
 * every till waits for the server as for a server away, and `status` says so.
 */
export const BROKEN_SERVER_AFTER_SALES = 3;
/**
 * A 413 for one sale alone is that sale's fault only if it weighs a fair part of the server's
 * documented limit (5 MiB a request). A smaller sale refused as "too large" means the server,
 * or a proxy before it, refuses everything: it is broken, the sale is not.
 */
export const BLAMEABLE_SALE_BYTES = MAX_BODY_BYTES / 2;
/** The shortest wake-up: a timer never spins on a time already past. */
const WAKE_FLOOR_MS = 50;
/** Batches answered in a row at a reduced size (after a 413 or a split) before the configured size is back. */
export const RESTORE_SIZE_AFTER_SUCCESSES = 3;

export interface ForwardReport {
  envoyees: number;
  synchronisees: number;
  rejetees: number;
  en_attente_stock: number;
  /** Returns (issue 10) the server now has, and those it refused for good, in this sync. */
  retours_synchronises: number;
  retours_rejetes: number;
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
 * Why a till waits: the server being away (cleared for all when it answers again), the relay's
 * own file refusing writes (cleared when it writes again), or the till's own trouble.
 */
type WaitCause = 'away' | 'disk' | 'own';

interface TillState {
  /** Sales per batch now: halved after a 413 or a failed batch, restored after successes. */
  size: number;
  successes: number;
  wait: { failures: number; until: number; cause: WaitCause } | null;
  /**
   * The till's returns refused as unknown (404 TERMINAL_NOT_FOUND on the returns): their own
   * backoff, ended only by the server answering the till's returns (or a person's sync). The
   * till's sales going through must not end it: each would send the returns again at once.
   */
  retoursWait: { failures: number; until: number } | null;
}

/** A sale that failed alone, set aside so that the rest of its till's queue moves on. */
interface AsideSale {
  serial: string;
  alone: number;
  until: number;
  /** `answeredBatches` when it first failed alone: blamed only if the server took others since. */
  answeredBefore: number;
}

type Step = 'more' | 'done' | 'failed';

/**
 * How soon a till tries again after its write met another process's lock (a staff command
 * writing the file): the lock is short, and waiting for it inside SQLite would freeze the
 * relay's event loop, every till's POST with it.
 */
export const BUSY_RETRY_MS = 250;

/** Another connection holds the lock: "try again soon", never disk trouble. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return storageFailureOf(error) === 'busy' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && code.startsWith('SQLITE_LOCKED_'));
}

/** The file refuses writes for longer than a moment: full, failing (I/O) or read-only. */
function isStorageTrouble(error: unknown): error is { code: string; message: string } {
  const failure = storageFailureOf(error);
  if (failure === 'full' || failure === 'io') return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_READONLY');
}

function isSqliteError(error: unknown): error is { code: string; message: string } {
  return typeof (error as { code?: unknown })?.code === 'string' && (error as { code: string }).code.startsWith('SQLITE_');
}

/**
 * Sends held sales to the server, per till (with its own serial), oldest first, in batches.
 * Delivery is at-least-once and made exactly-once by the numero: a sale is marked synced only
 * from the server's own answer, so a crash or a lost answer just means sending it again, and
 * the server then answers DUPLICATE with identique: true.
 * Every wait is measured on the monotonic clock (`monotonic`): a wall clock set back does
 * not stall forwarding. `now` (wall clock) only dates what is written down.
 */
export function createForwarder(deps: {
  store: RelayStore;
  upstream: Upstream;
  config: ForwarderConfig;
  logger: Logger;
  now?: () => Date;
  monotonic?: () => number;
  random?: () => number;
  /** Room kept on the disk (disk-reserve.ts): given back when the disk is full, taken again to know it is not. */
  reserve?: DiskReserve;
  /** The server's clock minus ours, measured on each sync answer that validates (clock.ts judges it). */
  onClockOffset?: (offsetMs: number) => void;
  /** Each batch's answer as classified, for the metrics (relay-metrics.ts). */
  onForwarded?: (outcome: BatchOutcome) => void;
}) {
  const { store, upstream, config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const mono = deps.monotonic ?? (() => performance.now());
  const random = deps.random ?? Math.random;

  // In memory: after a restart, trying at once is right.
  const tills = new Map<string, TillState>();
  const aside = new Map<number, AsideSale>();
  // Claims whose release could not be written (disk full): released before the till's next batch.
  const unreleased = new Map<string, number[]>();
  // The same for returns (their own table): a claim is released through the store that made it.
  const saleClaims = { release: (ids: readonly number[]) => store.release(ids), unreleased };
  // Returns that failed alone, set aside (until when) so that the till's other returns move on.
  const asideRetours = new Map<number, { serial: string; until: number }>();
  const retourClaims = { release: (ids: readonly number[]) => store.retours.release(ids), unreleased: new Map<string, number[]>() };
  let writeTrouble: { since: Date; message: string } | null = null;
  // Passes run side by side: a till's slow send holds no other till. A till is drained by one
  // pass at a time; `recheck`: sales came for a till while it was being drained.
  const passes = new Set<Promise<ForwardReport>>();
  const draining = new Set<string>();
  const recheck = new Set<string>();
  let busySlots = 0;
  const slotWaiters: Array<() => void> = [];
  // Sales that failed alone since the server last took a batch, and batches it took so far.
  const failedAlone = new Set<number>();
  let answeredBatches = 0;
  // Kept across restarts (in `etat`): until a batch goes through, nobody is blamed.
  let broken: { since: Date; reason: string } | null = (() => {
    try {
      const known = JSON.parse(store.getEtat('serveur_en_panne') ?? 'null') as { depuis?: string; raison?: string } | null;
      return known?.depuis ? { since: new Date(known.depuis), reason: known.raison ?? '' } : null;
    } catch {
      return null;
    }
  })();
  let again = false;
  let stopped = false;
  let abort = new AbortController();
  let intervalTimer: NodeJS.Timeout | undefined;
  let debounceTimer: NodeJS.Timeout | undefined;
  let debounceSince: number | null = null;
  let wakeTimer: NodeJS.Timeout | undefined;

  const tillState = (serial: string): TillState => {
    let till = tills.get(serial);
    if (!till) tills.set(serial, (till = { size: config.batchSize, successes: 0, wait: null, retoursWait: null }));
    return till;
  };
  /** Stock retry times beyond this can only come from a wall clock set back: due now. */
  const horizon = () => new Date(now().getTime() + 2 * config.stockRetry.capMs);

  /** Records what the answer says of each sale; runs inside the batch's one transaction. */
  function applyOutcome(batch: HeldVente[], sales: SaleOutcome[], at: Date, report: ForwardReport): void {
    sales.forEach((sale, i) => {
      const held = batch[i]!;
      if (sale.kind === 'synced') {
        store.markSynced(held.id, sale.montant, at, sale.avertissements ?? null);
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
    // Synced all the same, but stock went below zero on the server: a person should know.
    const warned = batch.flatMap((v, i) => {
      const sale = sales[i]!;
      return sale.kind === 'synced' && sale.avertissements ? [{ numero_facture: v.numero_facture, avertissements: sale.avertissements }] : [];
    });
    if (warned.length > 0) {
      logger.warn(
        { serial, avertis: warned.slice(0, MAX_LOGGED_REFUSALS) },
        `${warned.length} vente(s) du terminal ${serial} synchronisée(s) avec avertissement, dont ${warned[0]!.numero_facture} : ${warned[0]!.avertissements.map(describeWarning).join(' ; ')}`,
      );
    }
    if (refusals.length === 0) return logger.info({ serial, envoyees: batch.length, synchronisees: synced }, base);
    const first = refusals[0]!;
    logger.warn(
      { serial, envoyees: batch.length, synchronisees: synced, refus: refusals.slice(0, MAX_LOGGED_REFUSALS) },
      `${base}, ${refusals.length} refusée(s) par le serveur, dont ${first.numero_facture} (${first.code}) : ${first.erreur}`,
    );
  }

  /**
   * Writes down what a send taught, in one transaction, and releases the batch's claim in it.
   * When the relay's own file refuses the write (disk full, I/O error), nothing is recorded:
   * the till backs off and the claim is released when writing works again.
   */
  function record(serial: string, ids: number[], report: ForwardReport, write: () => void, claims = saleClaims): boolean {
    try {
      store.transaction(() => {
        write();
        claims.release(ids);
      });
    } catch (error) {
      // Whatever failed, the claim must not outlive this send: released before the next one.
      claims.unreleased.set(serial, [...new Set([...(claims.unreleased.get(serial) ?? []), ...ids])]);
      if (!isSqliteError(error)) throw error;
      if (isBusy(error)) busyFile(serial, error, report);
      else cannotWrite(serial, error, report);
      return false;
    }
    if (writeTrouble) writingAgain();
    return true;
  }

  /**
   * A write went through after trouble. On a disk that was full it may only have used the
   * reserve: the trouble is over once the reserve can be taken again.
   */
  function writingAgain(): void {
    if (!writeTrouble) return;
    if (deps.reserve && !deps.reserve.ensure()) return;
    try {
      store.setEtat('ecriture_impossible', null);
    } catch {
      return;
    }
    logger.info({ depuis: writeTrouble.since.toISOString() }, "Écriture de nouveau possible dans le fichier du relais : les envois reprennent");
    writeTrouble = null;
    for (const till of tills.values()) if (till.wait?.cause === 'disk') till.wait = null;
    again = true;
  }

  /** The file is locked by another process for a moment: this till tries again shortly, nothing recorded as trouble. */
  function busyFile(serial: string, error: { code: string; message: string }, report: ForwardReport): void {
    const till = tillState(serial);
    till.wait = { failures: till.wait?.failures ?? 0, until: mono() + BUSY_RETRY_MS, cause: till.wait?.cause ?? 'own' };
    report.erreurs.push(`${serial} : fichier du relais occupé par une autre commande, nouvel essai dans un instant`);
    logger.info({ serial, code: error.code }, 'Fichier du relais occupé par une autre commande : nouvel essai dans un instant');
  }

  function cannotWrite(serial: string, error: { code: string; message: string }, report: ForwardReport): void {
    const message = writeFailed(error, { serial });
    holdOff(serial, 'disk', null, message, report);
  }

  /**
   * The relay's file refused a write (full disk, I/O error, read-only), from the forwarder or
   * from a till's sale at the door: the one record of it, for `/ready`, the page and `status`;
   * cleared by `writingAgain` when a write goes through. Returns the words said.
   */
  function writeFailed(error: { code: string; message: string }, context: object = {}): string {
    const at = now();
    const full = storageFailureOf(error) === 'full';
    const message = full
      ? 'Le disque de ce PC est plein : les ventes ne sont plus enregistrées ; libérez de la place sur cet ordinateur (celles déjà reçues restent gardées)'
      : `Le relais ne peut pas écrire dans son fichier (${error.code}) : les ventes ne sont plus enregistrées ni envoyées`;
    // Said once per trouble: every till retrying its sales would otherwise repeat it each time.
    if (writeTrouble?.message !== message) logger.error({ ...context, code: error.code, err: error.message }, message);
    writeTrouble = { since: writeTrouble?.since ?? at, message };
    // The room kept for this moment: enough to write the fact down below.
    if (full) deps.reserve?.release();
    // For `status`; on a full disk this small write may fail too, and the log still says it.
    try {
      store.setEtats({
        ecriture_impossible: JSON.stringify({ depuis: writeTrouble.since.toISOString(), code: error.code, message }),
        derniere_erreur: message,
        derniere_erreur_le: at.toISOString(),
      });
    } catch {
      // Nothing more can be written: the memory (for /ready) and the log still say it.
    }
    return message;
  }

  /** The server answered: every till that was waiting only for it may go now. */
  function serverBack(): void {
    // A server that answers but fails every sale is not back: its tills keep their backoff.
    if (broken) return;
    let cleared = false;
    for (const till of tills.values()) {
      if (till.wait?.cause === 'away') {
        till.wait = null;
        cleared = true;
      }
    }
    if (cleared) again = true;
  }

  /** Backs off a till: exponential with full jitter, or Retry-After if longer; never above the cap. */
  function holdOff(serial: string, cause: WaitCause, retryAfterMs: number | null, reason: string, report: ForwardReport): void {
    const till = tillState(serial);
    const failures = (till.wait?.failures ?? 0) + 1;
    const delay = timerDelay(Math.max(backoffDelay(failures - 1, config.networkRetry, random), retryAfterMs ?? 0), config.networkRetry.capMs);
    till.wait = { failures, until: mono() + delay, cause };
    report.erreurs.push(`${serial} : ${reason}`);
    logger.warn(
      { serial, echecs: failures, nouvel_essai_dans_ms: delay, detail: reason },
      `Envoi impossible (terminal ${serial}), nouvel essai dans ${Math.max(1, Math.round(delay / 1000))} s : ${describeError(reason)}`,
    );
  }

  /** Backs off the till's returns refused as unknown, as holdOff does its sales: exponential up to the cap. */
  function holdOffRetours(serial: string, till: TillState, reason: string, report: ForwardReport): void {
    const failures = (till.retoursWait?.failures ?? 0) + 1;
    const delay = timerDelay(backoffDelay(failures - 1, config.networkRetry, random), config.networkRetry.capMs);
    till.retoursWait = { failures, until: mono() + delay };
    report.erreurs.push(`${serial} : ${reason}`);
    logger.warn(
      { serial, echecs: failures, nouvel_essai_dans_ms: delay, detail: reason },
      `Retours du terminal ${serial} non transmis, nouvel essai dans ${Math.max(1, Math.round(delay / 1000))} s : ${describeError(reason)}`,
    );
  }

  /** Whether the till's returns wait out a refusal of the till (holdOffRetours) at `t`. */
  const retoursWaiting = (serial: string, t: number) => (tills.get(serial)?.retoursWait?.until ?? 0) > t;

  function shrink(serial: string, till: TillState, sent: number, why: string): void {
    till.size = Math.max(1, Math.floor(sent / 2));
    till.successes = 0;
    logger.warn({ serial, taille: sent, nouvelle_taille: till.size }, `${why} : essai par lots de ${till.size}`);
  }

  /** The server does not know the till (404 TERMINAL_NOT_FOUND): what the relay knew of it stays. */
  function markUnknown(serial: string, at: Date): void {
    const terminal = store.terminal(serial);
    store.saveTerminal(
      serial,
      'INCONNU',
      { boutique_id: terminal?.boutique_id ?? null, boutique_nom: terminal?.boutique_nom ?? null, terminal_nom: terminal?.terminal_nom ?? null },
      at,
    );
  }

  /** Picks the till's next batch and claims it; a sale set aside and due again goes alone, after the others. */
  function claimNext(serial: string, till: TillState): { batch: HeldVente[]; lone: number | null } {
    const t = mono();
    const skip = new Set<number>();
    let lone: number | null = null;
    for (const [id, sale] of aside) {
      if (sale.serial !== serial) continue;
      if (lone === null && sale.until <= t) lone = id;
      skip.add(id);
    }
    // The rest of the queue goes first: a sale set aside is tried again when nothing else
    // waits. Otherwise its retries would keep the next sales from telling a poisoned sale
    // (the others go through) from a broken server (they fail alone as well).
    const batch = store.claimBatch(serial, now(), horizon(), till.size, skip);
    if (batch.length > 0 || lone === null) return { batch, lone: null };
    return { batch: store.claimSales([lone], now()), lone };
  }

  /**
   * Sends one batch and records everything it taught in a single transaction: with
   * synchronous=FULL each commit is an fsync, and the relay's bookkeeping must not cost more
   * disk flushes than the server's own write of the batch.
   */
  async function sendBatch(serial: string, report: ForwardReport): Promise<Step> {
    const till = tillState(serial);
    const left = unreleased.get(serial);
    if (left && !record(serial, left, report, () => {})) return 'failed';
    unreleased.delete(serial);

    let claimed: ReturnType<typeof claimNext>;
    try {
      claimed = claimNext(serial, till);
    } catch (error) {
      if (!isSqliteError(error)) throw error;
      if (isBusy(error)) busyFile(serial, error, report);
      else cannotWrite(serial, error, report);
      return 'failed';
    }
    const { batch, lone } = claimed;
    if (lone !== null && batch.length === 0) {
      // No longer waiting (sent, retried or discarded meanwhile).
      aside.delete(lone);
      return 'more';
    }
    if (batch.length === 0) return 'done';
    const ids = batch.map((v) => v.id);
    const limit = till.size;
    const answer = await upstream.postSync(serial, `[${batch.map((v) => v.contenu).join(',')}]`, abort.signal);
    const outcome = classifyAnswer(answer, batch.map((v) => v.numero_facture));
    deps.onForwarded?.(outcome);
    const at = now();
    // Sales, not sends: a sale sent again in the same pass (a batch split, a 413) counts once.
    const sent = sentIn.get(report) ?? new Set<number>();
    sentIn.set(report, sent);
    for (const id of ids) sent.add(id);
    report.envoyees = sent.size;
    if (outcome.kind === 'answered' && answer.kind === 'response' && typeof answer.clockOffsetMs === 'number') {
      deps.onClockOffset?.(answer.clockOffsetMs);
    }

    if (outcome.kind === 'answered') return answeredBatch(serial, till, batch, outcome, at, report, lone !== null || batch.length === limit);
    if (outcome.kind === 'too-large' || outcome.kind === 'failed') return await refusedBatch(serial, till, batch, outcome, at, report);

    // The server is away, or does not know the till: nothing is known of the batch.
    const reason = outcome.reason;
    const ok = record(serial, ids, report, () => {
      store.countAttempt(ids, { at, reason, unsure: outcome.kind === 'retry' && outcome.unsure });
      if (outcome.kind === 'terminal-unknown') markUnknown(serial, at);
      store.recordTerminalError(serial, reason, at);
      store.recordServerAnswered(answer.kind === 'response', at);
      store.setEtats({ derniere_erreur: reason, derniere_erreur_le: at.toISOString() });
    });
    if (!ok) return 'failed';
    if (answer.kind === 'response' && outcome.kind === 'terminal-unknown') serverBack();
    // A §6 refusal (trust) is this till's own wait: another till's answer does not end it.
    holdOff(serial, outcome.kind === 'retry' ? 'away' : 'own', outcome.kind === 'terminal-unknown' ? null : outcome.retryAfterMs, reason, report);
    return 'failed';
  }

  function answeredBatch(
    serial: string,
    till: TillState,
    batch: HeldVente[],
    outcome: Extract<BatchOutcome, { kind: 'answered' }>,
    at: Date,
    report: ForwardReport,
    full: boolean,
  ): Step {
    const ids = batch.map((v) => v.id);
    const unmentioned = outcome.sales.filter((sale) => sale.kind === 'unknown').length;
    const ok = record(serial, ids, report, () => {
      store.countAttempt(ids);
      applyOutcome(batch, outcome.sales, at, report);
      batch.forEach((v, i) => {
        if (outcome.sales[i]!.kind === 'unknown') store.recordAttempt(v.id, at, 'SANS_REPONSE', null, 'Absente de la réponse du serveur');
      });
      // The answer names the boutique and the till: what the relay shows staff.
      const { boutique_id, boutique_nom, terminal } = outcome.boutique;
      store.saveTerminal(serial, 'CONNU', { boutique_id, boutique_nom, terminal_nom: terminal }, at);
      store.recordTerminalSync(serial, at);
      store.recordServerAnswered(true, at);
      store.setEtat('derniere_sync', at.toISOString());
    });
    if (!ok) return 'failed';
    serverTakesSales();
    serverBack();
    // Returns of these sales (maybe held for another till) can go now: one more pass takes them.
    if (outcome.sales.some((sale) => sale.kind === 'synced') && store.retours.anyWaiting()) again = true;
    for (const id of ids) if (outcome.sales[ids.indexOf(id)]!.kind !== 'unknown') aside.delete(id);
    till.successes++;
    if (till.size < config.batchSize && till.successes >= RESTORE_SIZE_AFTER_SUCCESSES) {
      till.size = config.batchSize;
      logger.info({ serial, taille: till.size }, `Lots de nouveau de ${till.size} vente(s) pour le terminal ${serial}`);
    }
    logBatchAnswer(serial, batch, outcome.sales);
    if (unmentioned > 0) {
      // The server did not account for some sales: resending them at once would loop.
      holdOff(serial, 'own', null, `${unmentioned} vente(s) absente(s) de la réponse du serveur`, report);
      return 'failed';
    }
    till.wait = null;
    return full ? 'more' : 'done';
  }

  /** A batch went through: the server works for sales; it is no longer thought broken. */
  function serverTakesSales(): void {
    answeredBatches++;
    failedAlone.clear();
    if (!broken) return;
    logger.info({ depuis: broken.since.toISOString() }, 'Le serveur accepte de nouveau les ventes : les envois reprennent normalement');
    broken = null;
    try {
      store.setEtat('serveur_en_panne', null);
    } catch {
      // Written again at the next change; the log says it.
    }
  }

  /**
   * The server fails whatever it is sent: every sale waits for it (backoff, as for a server
   * away), nobody is blamed, and `status` and the log say so.
   */
  function serverBroken(serial: string, reason: string, at: Date, report: ForwardReport): void {
    if (!broken) {
      broken = { since: at, reason };
      // Sales set aside meanwhile were not the trouble: back in their till's queue.
      aside.clear();
      asideRetours.clear();
      logger.error(
        { serial, detail: reason, ventes_seules_en_echec: failedAlone.size },
        `Le serveur échoue sur toutes les ventes (${describeError(reason)}) : aucune vente n'est mise en cause, ` +
          'elles restent en attente et partiront quand le serveur fonctionnera de nouveau',
      );
    }
    failedAlone.clear();
    try {
      store.setEtat('serveur_en_panne', JSON.stringify({ depuis: broken.since.toISOString(), raison: reason, derniere_erreur_le: at.toISOString() }));
    } catch {
      // The log says it; the file will take it later.
    }
    holdOff(serial, 'away', null, reason, report);
  }

  /** A short pause before the till's next batch while one is being split (see bisectPaceMs). */
  function pace(till: TillState): Step {
    till.wait = { failures: till.wait?.failures ?? 0, until: mono() + config.bisectPaceMs, cause: till.wait?.cause ?? 'own' };
    return 'failed';
  }

  /**
   * The server refused the batch as a whole (413, 400, 500, an answer that does not read).
   * Maybe one sale causes it: the batch is split, at a measured pace, until the sale that fails
   * alone is found; that sale is set aside (the rest of the till's queue moves on) and, after
   * POISON_MAX_ALONE_FAILURES with other sales going through meanwhile, it is REJETEE with the
   * server's answer for a person to judge. When sales keep failing alone one after another
   * (BROKEN_SERVER_AFTER_SALES), or an empty batch or a small sale is refused as well, the
   * server is broken: nobody is blamed, every till waits for it.
   */
  async function refusedBatch(
    serial: string,
    till: TillState,
    batch: HeldVente[],
    outcome: Extract<BatchOutcome, { kind: 'too-large' | 'failed' }>,
    at: Date,
    report: ForwardReport,
  ): Promise<Step> {
    const ids = batch.map((v) => v.id);
    const { reason, code } = outcome;
    const unsure = outcome.kind === 'failed' && outcome.unsure;
    const noteFailure = () => {
      store.countAttempt(ids, { at, reason, unsure });
      store.recordTerminalError(serial, reason, at);
      store.recordServerAnswered(true, at);
      store.setEtats({ derniere_erreur: reason, derniere_erreur_le: at.toISOString() });
    };
    if (!record(serial, ids, report, noteFailure)) return 'failed';
    if (broken) {
      serverBroken(serial, reason, at, report);
      return 'failed';
    }
    if (batch.length > 1) {
      shrink(serial, till, batch.length, outcome.kind === 'too-large' ? 'Lot trop gros pour le serveur' : `Lot refusé par le serveur (${reason}), découpé pour trouver la vente en cause`);
      report.erreurs.push(`${serial} : ${reason}`);
      return pace(till);
    }

    const held = batch[0]!;
    if (outcome.kind === 'too-large' && Buffer.byteLength(held.contenu) < BLAMEABLE_SALE_BYTES) {
      serverBroken(serial, `${reason} ; même pour une seule vente de ${Math.ceil(Buffer.byteLength(held.contenu) / 1024)} Kio`, at, report);
      return 'failed';
    }
    if (!(await serverWorks(serial))) {
      // The server fails an empty batch as well: it is broken for everything, not for this sale.
      serverBroken(serial, reason, at, report);
      return 'failed';
    }
    failedAlone.add(held.id);
    if (failedAlone.size >= BROKEN_SERVER_AFTER_SALES) {
      serverBroken(serial, `${reason} ; ${failedAlone.size} ventes différentes en échec, chacune seule`, at, report);
      return 'failed';
    }
    const before = aside.get(held.id);
    const alone = (before?.alone ?? 0) + 1;
    const answeredBefore = before?.answeredBefore ?? answeredBatches;
    // Blamed only if the server took other sales since this one first failed alone: otherwise
    // nothing shows the server works for sales at all (it may refuse every one, as too large too).
    const othersWent = answeredBatches > answeredBefore;
    if (othersWent && (outcome.kind === 'too-large' || alone >= POISON_MAX_ALONE_FAILURES)) {
      const erreur =
        outcome.kind === 'too-large'
          ? `Vente trop volumineuse pour le serveur, même seule : ${reason}`
          : `Le serveur échoue sur cette vente (${alone} envois seule) : ${reason}`;
      const ok = record(serial, [], report, () => {
        store.markRejected(held.id, code, erreur, at);
      });
      if (!ok) return 'failed';
      aside.delete(held.id);
      failedAlone.delete(held.id);
      report.rejetees++;
      logger.warn({ serial, numero_facture: held.numero_facture, code }, `Vente ${held.numero_facture} rejetée : ${erreur}`);
      return pace(till);
    }
    const delay = timerDelay(Math.max(backoffDelay(alone - 1, config.networkRetry, random), config.networkRetry.baseMs / 2), config.networkRetry.capMs);
    aside.set(held.id, { serial, alone, until: mono() + delay, answeredBefore });
    report.erreurs.push(`${serial} : ${held.numero_facture} : ${reason}`);
    logger.warn(
      { serial, numero_facture: held.numero_facture, echecs_seule: alone, nouvel_essai_dans_ms: delay },
      `Vente ${held.numero_facture} mise de côté (le serveur échoue sur elle seule : ${reason}) ; les autres ventes continuent`,
    );
    return pace(till);
  }

  /**
   * Whether the server reads and answers a sync for this till at all: an empty batch, which
   * it answers with the usual summary and creates nothing.
   */
  async function serverWorks(serial: string): Promise<boolean> {
    const answer = await upstream.postSync(serial, '[]', abort.signal);
    const works = classifyAnswer(answer, []).kind === 'answered';
    if (works) serverBack();
    return works;
  }

  /**
   * Sends the till's due returns (issue 10), after its sales, signed and backed off like them.
   * A return is due once its sale no longer waits on this relay (retour-store.ts). Created, or
   * DUPLICATE identique, is SYNCHRONISEE; SALE_NOT_FOUND while the sale waits here again (a
   * person's retry) leaves it waiting for the sale; any other refusal is REJETEE with the
   * server's reason. A refused batch is halved (413, 400, 500); a return the server fails alone
   * while it answers an empty batch is REJETEE after POISON_MAX_ALONE_FAILURES (at once for a
   * 413 of a return that weighs a fair part of the limit).
   */
  async function sendRetours(serial: string, report: ForwardReport): Promise<Step> {
    const till = tillState(serial);
    if (retoursWaiting(serial, mono())) return 'done';
    const left = retourClaims.unreleased.get(serial);
    if (left && !record(serial, left, report, () => {}, retourClaims)) return 'failed';
    retourClaims.unreleased.delete(serial);

    // As for sales: a return set aside goes alone, once due, after the till's other returns.
    const t = mono();
    const skip = new Set<number>();
    let lone: number | null = null;
    for (const [id, r] of asideRetours) {
      if (r.serial !== serial) continue;
      if (lone === null && r.until <= t) lone = id;
      skip.add(id);
    }
    let batch: HeldRetour[];
    try {
      batch = store.retours.claimBatch(serial, now(), till.size, skip);
      if (batch.length === 0 && lone !== null) {
        batch = store.retours.claimById(lone, now());
        // No longer waiting (retried, discarded) : nothing to send for it.
        if (batch.length === 0) {
          asideRetours.delete(lone);
          return 'more';
        }
      }
    } catch (error) {
      if (!isSqliteError(error)) throw error;
      if (isBusy(error)) busyFile(serial, error, report);
      else cannotWrite(serial, error, report);
      return 'failed';
    }
    if (batch.length === 0) return 'done';
    const ids = batch.map((r) => r.id);
    const limit = till.size;
    const answer = await upstream.postRetours(serial, `[${batch.map((r) => r.contenu).join(',')}]`, abort.signal);
    const outcome = classifyRetoursAnswer(answer, batch.map((r) => r.numero_retour));
    const at = now();

    if (outcome.kind === 'answered') {
      let unmentioned = 0;
      const refused: Array<{ numero_retour: string; code: string; erreur: string }> = [];
      const ok = record(
        serial,
        ids,
        report,
        () => {
          store.retours.countAttempt(ids);
          outcome.retours.forEach((r, i) => {
            const held = batch[i]!;
            // Each outcome goes into the return's history too: a send with no clear answer
            // keeps a person from discarding a return the server may have (as for sales).
            if (r.kind === 'synced') {
              store.retours.markSynced(held.id, r.montant, at);
              store.retours.recordAttempt(held.id, at, 'SYNCHRONISEE', null, r.montant === null ? null : `montant ${r.montant}`);
            } else if (r.kind === 'rejected') {
              store.retours.markRejected(held.id, r.code, r.erreur);
              store.retours.recordAttempt(held.id, at, 'REJETEE', r.code, r.erreur);
              refused.push({ numero_retour: held.numero_retour, code: r.code, erreur: r.erreur });
            } else if (r.kind === 'missing') {
              if (store.retours.blockingSale(held.id) !== undefined) {
                const erreur = `${r.erreur} (la vente attend encore sur le relais)`;
                store.retours.noteWaiting(held.id, 'SALE_NOT_FOUND', erreur);
                store.retours.recordAttempt(held.id, at, 'ATTENTE_VENTE', 'SALE_NOT_FOUND', erreur);
              } else {
                store.retours.markRejected(held.id, 'SALE_NOT_FOUND', r.erreur);
                store.retours.recordAttempt(held.id, at, 'REJETEE', 'SALE_NOT_FOUND', r.erreur);
                refused.push({ numero_retour: held.numero_retour, code: 'SALE_NOT_FOUND', erreur: r.erreur });
              }
            } else {
              store.retours.recordAttempt(held.id, at, 'SANS_REPONSE', null, 'Absent de la réponse du serveur');
              unmentioned++;
            }
          });
          // The answer names the boutique and the till, as a sync's does: a till that only
          // ever sent returns is known from now on (its returns' boutique filled, its name shown).
          const { boutique_id, boutique_nom, terminal } = outcome.boutique;
          store.saveTerminal(serial, 'CONNU', { boutique_id, boutique_nom, terminal_nom: terminal }, at);
          store.recordTerminalSync(serial, at);
          store.recordServerAnswered(true, at);
          store.setEtat('derniere_sync', at.toISOString());
        },
        retourClaims,
      );
      if (!ok) return 'failed';
      serverBack();
      outcome.retours.forEach((r, i) => {
        if (r.kind !== 'unknown') asideRetours.delete(batch[i]!.id);
      });
      const synced = outcome.retours.filter((r) => r.kind === 'synced').length;
      report.retours_synchronises += synced;
      report.retours_rejetes += refused.length;
      const base = `Lot de ${batch.length} retour(s) transmis pour le terminal ${serial} : ${synced} synchronisé(s)`;
      if (refused.length === 0) logger.info({ serial, retours_envoyes: batch.length, retours_synchronises: synced }, base);
      else {
        const first = refused[0]!;
        logger.warn(
          { serial, retours_envoyes: batch.length, retours_synchronises: synced, refus: refused.slice(0, MAX_LOGGED_REFUSALS) },
          `${base}, ${refused.length} refusé(s) par le serveur, dont ${first.numero_retour} (${first.code}) : ${first.erreur}`,
        );
      }
      if (unmentioned > 0) {
        holdOff(serial, 'own', null, `${unmentioned} retour(s) absent(s) de la réponse du serveur`, report);
        return 'failed';
      }
      till.successes++;
      if (till.size < config.batchSize && till.successes >= RESTORE_SIZE_AFTER_SUCCESSES) till.size = config.batchSize;
      till.wait = null;
      till.retoursWait = null;
      return batch.length === limit ? 'more' : 'done';
    }

    const reason = outcome.reason;
    const unsure = (outcome.kind === 'retry' || outcome.kind === 'failed') && outcome.unsure;
    const noteFailure = () => {
      store.retours.countAttempt(ids, { at, reason, unsure });
      if (outcome.kind === 'terminal-unknown') markUnknown(serial, at);
      store.recordTerminalError(serial, reason, at);
      store.recordServerAnswered(answer.kind === 'response', at);
      store.setEtats({ derniere_erreur: reason, derniere_erreur_le: at.toISOString() });
    };
    if (outcome.kind !== 'too-large' && outcome.kind !== 'failed') {
      // Away, the till unknown, or the relay refused (§6): nothing is known of the returns.
      if (!record(serial, ids, report, noteFailure, retourClaims)) return 'failed';
      if (answer.kind === 'response' && outcome.kind === 'terminal-unknown') serverBack();
      if (outcome.kind === 'terminal-unknown') holdOffRetours(serial, till, reason, report);
      else holdOff(serial, outcome.kind === 'retry' ? 'away' : 'own', outcome.retryAfterMs, reason, report);
      return 'failed';
    }
    if (!record(serial, ids, report, noteFailure, retourClaims)) return 'failed';
    if (broken) {
      holdOff(serial, 'away', null, reason, report);
      return 'failed';
    }
    if (batch.length > 1) {
      shrink(serial, till, batch.length, outcome.kind === 'too-large' ? 'Lot de retours trop gros pour le serveur' : `Lot de retours refusé par le serveur (${reason}), découpé`);
      report.erreurs.push(`${serial} : ${reason}`);
      return pace(till);
    }
    const held = batch[0]!;
    const small = outcome.kind === 'too-large' && Buffer.byteLength(held.contenu) < BLAMEABLE_SALE_BYTES;
    // The server refuses an empty batch too, or a small return as too large: it is broken, the return is not.
    if (small || classifyRetoursAnswer(await upstream.postRetours(serial, '[]', abort.signal), []).kind !== 'answered') {
      holdOff(serial, 'away', null, reason, report);
      return 'failed';
    }
    let alone = 0;
    const blame = () => {
      alone = store.retours.failedAlone(held.id);
      if (outcome.kind === 'too-large' || alone >= POISON_MAX_ALONE_FAILURES) {
        const erreur =
          outcome.kind === 'too-large' ? `Retour trop volumineux pour le serveur, même seul : ${reason}` : `Le serveur échoue sur ce retour (${alone} envois seul) : ${reason}`;
        store.retours.markRejected(held.id, outcome.code, erreur);
        report.retours_rejetes++;
        logger.warn({ serial, numero_retour: held.numero_retour, code: outcome.code }, `Retour ${held.numero_retour} rejeté : ${erreur}`);
      }
    };
    if (!record(serial, [], report, blame, retourClaims)) return 'failed';
    if (outcome.kind === 'too-large' || alone >= POISON_MAX_ALONE_FAILURES) {
      asideRetours.delete(held.id);
      return pace(till);
    }
    const delay = timerDelay(Math.max(backoffDelay(alone - 1, config.networkRetry, random), config.networkRetry.baseMs / 2), config.networkRetry.capMs);
    asideRetours.set(held.id, { serial, until: mono() + delay });
    report.erreurs.push(`${serial} : ${held.numero_retour} : ${reason}`);
    logger.warn(
      { serial, numero_retour: held.numero_retour, echecs_seul: alone, nouvel_essai_dans_ms: delay },
      `Retour ${held.numero_retour} mis de côté (le serveur échoue sur lui seul : ${reason}) ; les autres retours continuent`,
    );
    return pace(till);
  }

  /** The sales each report has seen sent, so that `envoyees` counts each once. */
  const sentIn = new WeakMap<ForwardReport, Set<number>>();
  const emptyReport = (): ForwardReport => ({
    envoyees: 0,
    synchronisees: 0,
    rejetees: 0,
    en_attente_stock: 0,
    retours_synchronises: 0,
    retours_rejetes: 0,
    erreurs: [],
  });

  /** At most `parallelTills` tills send at once, over every pass. */
  async function inSlot(fn: () => Promise<void>): Promise<void> {
    while (busySlots >= config.parallelTills) await new Promise<void>((resolve) => slotWaiters.push(resolve));
    busySlots++;
    try {
      await fn();
    } finally {
      busySlots--;
      slotWaiters.shift()?.();
    }
  }

  async function drainTill(serial: string, report: ForwardReport): Promise<void> {
    let step: Step = 'more';
    for (;;) {
      while (step === 'more' && !stopped) step = await sendBatch(serial, report);
      // The till's returns go after its sales, each once its own sale is no longer waiting here.
      if (step === 'done') {
        step = 'more';
        while (step === 'more' && !stopped) step = await sendRetours(serial, report);
      }
      // Sales that came for this till while it was being drained go now.
      if (step !== 'done' || stopped || !recheck.delete(serial)) return;
      step = 'more';
    }
  }

  /**
   * Tills are drained side by side, one batch in flight per till (as the tills themselves
   * would post): a backlog after an outage then reaches the server at its multi-till rate.
   * Each till's own sales still leave oldest first. A till already being drained (maybe by a
   * slow send) is left to its pass: the others do not wait for it.
   */
  async function runPass(report: ForwardReport): Promise<void> {
    // Space may have come back with nothing to send: the alert must not outlive the trouble.
    writingAgain();
    const t = mono();
    const retoursDue = store.retours.serialsDue().filter((serial) => !retoursWaiting(serial, t));
    const due = [...new Set([...store.serialsDue(now(), horizon()), ...retoursDue])].filter((serial) => (tills.get(serial)?.wait?.until ?? 0) <= t);
    const mine = due.filter((serial) => {
      if (!draining.has(serial)) return true;
      recheck.add(serial);
      return false;
    });
    for (const serial of mine) draining.add(serial);
    await Promise.all(mine.map((serial) => inSlot(() => drainTill(serial, report)).finally(() => draining.delete(serial))));
  }

  /**
   * Wakes up when something can really be sent: the earliest end of a till's backoff, and a
   * set-aside sale or a stock retry falling due, each no earlier than its till's own backoff.
   * Never a poll: a time already past is a till being drained (its pass reschedules) or a
   * till whose wait ran out during another till's pass, with sales it can send.
   */
  function scheduleWake(): void {
    if (stopped) return;
    clearTimeout(wakeTimer);
    const t = mono();
    const wall = now().getTime();
    const limit = horizon().getTime();
    const waitOf = (serial: string) => {
      const until = tills.get(serial)?.wait?.until ?? -Infinity;
      return until > t ? until : -Infinity;
    };
    const times: number[] = [];
    const asideIds = [...aside.keys()];
    const retoursDue = (serial: string) => store.retours.hasDue(serial, [...asideRetours.keys()]);
    for (const [serial, till] of tills) {
      // Returns waiting out a refusal of their till: due at that wait's end, not before.
      const retoursUntil = till.retoursWait?.until ?? -Infinity;
      if (retoursUntil > t && !draining.has(serial) && retoursDue(serial)) times.push(Math.max(retoursUntil, waitOf(serial)));
      if (!till.wait) continue;
      if (till.wait.until > t) times.push(till.wait.until);
      // A wait that ran out while a pass was still busy with other tills: its sales are due
      // now. Sales set aside keep their own time (below), so this is never a poll on them.
      else if (!draining.has(serial) && (store.hasSalesDue(serial, now(), horizon(), asideIds) || (retoursUntil <= t && retoursDue(serial)))) times.push(t);
    }
    for (const sale of aside.values()) if (!draining.has(sale.serial)) times.push(Math.max(sale.until, waitOf(sale.serial)));
    for (const r of asideRetours.values()) {
      if (!draining.has(r.serial)) times.push(Math.max(r.until, waitOf(r.serial), tills.get(r.serial)?.retoursWait?.until ?? -Infinity));
    }
    for (const { serial, due } of store.nextDuePerTill(asideIds)) {
      if (draining.has(serial)) continue;
      const at = Date.parse(due);
      times.push(Math.max(at > limit ? t : t + (at - wall), waitOf(serial)));
    }
    const next = Math.min(...times);
    if (!Number.isFinite(next)) return;
    // Capped: a wait is never longer than the backoff maximum, and a timer never overflows.
    wakeTimer = setTimeout(() => void runOnce().catch(() => {}), timerDelay(Math.max(WAKE_FLOOR_MS, next - t), config.networkRetry.capMs));
    wakeTimer.unref();
  }

  /**
   * One pass over every till with sales due, beside any pass already running (which keeps its
   * tills). The answer waits for those too: what they send is part of "now" for the caller.
   */
  function runOnce(): Promise<ForwardReport> {
    const others = [...passes];
    // Declared first: the pass removes itself from `passes` when done.
    let pass!: Promise<ForwardReport>;
    pass = (async () => {
      const report = emptyReport();
      try {
        again = false;
        await runPass(report);
        while (again && !stopped) {
          again = false;
          await runPass(report);
        }
        return report;
      } catch (error) {
        logger.error({ err: error }, 'Erreur inattendue pendant la transmission');
        throw error;
      } finally {
        passes.delete(pass);
        scheduleWake();
      }
    })();
    passes.add(pass);
    if (others.length === 0) return pass;
    return Promise.all([pass, ...others.map((p) => p.catch(emptyReport))]).then((reports) => {
      // A sale the other passes sent too counts once.
      const sent = new Set(reports.flatMap((r) => [...(sentIn.get(r) ?? [])]));
      return reports.reduce((sum, r) => ({
        envoyees: sent.size,
        synchronisees: sum.synchronisees + r.synchronisees,
        rejetees: sum.rejetees + r.rejetees,
        en_attente_stock: sum.en_attente_stock + r.en_attente_stock,
        retours_synchronises: sum.retours_synchronises + r.retours_synchronises,
        retours_rejetes: sum.retours_rejetes + r.retours_rejetes,
        erreurs: [...sum.erreurs, ...r.erreurs],
      }));
    });
  }

  return {
    runOnce,
    /** Forget backoffs: a person asked for a sync now. */
    syncNow(): Promise<ForwardReport> {
      for (const till of tills.values()) {
        till.wait = null;
        till.retoursWait = null;
      }
      for (const sale of aside.values()) sale.until = 0;
      for (const r of asideRetours.values()) r.until = 0;
      return runOnce();
    },
    /**
     * New sales arrived: forward them shortly, as one batch if they came in a burst; while
     * tills keep posting, no later than `debounceMaxMs` after the first.
     */
    notify(): void {
      if (stopped) return;
      const t = mono();
      debounceSince ??= t;
      clearTimeout(debounceTimer);
      const delay = Math.min(config.debounceMs, Math.max(0, debounceSince + config.debounceMaxMs - t));
      debounceTimer = setTimeout(() => {
        debounceSince = null;
        void runOnce().catch(() => {});
      }, delay);
      debounceTimer.unref();
    },
    /** What the forwarder cannot write down right now (full disk…), for the daemon's status. */
    writeTrouble: () => writeTrouble,
    /**
     * A write elsewhere in the relay (a till's sale at the door) met its file: `error` null
     * when it went through (clears a recorded trouble), else recorded as the forwarder's own
     * when it is storage trouble (full, I/O, read-only); a lock held a moment is not trouble.
     */
    noteWrite(error: unknown): void {
      if (error === null) {
        if (writeTrouble) writingAgain();
        return;
      }
      if (isStorageTrouble(error)) writeFailed(error, { source: 'caisse' });
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
      await Promise.all([...passes].map((p) => p.catch(() => {})));
    },
  };
}

export type Forwarder = ReturnType<typeof createForwarder>;
