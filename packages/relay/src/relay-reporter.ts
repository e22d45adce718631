import { MAX_REPORTED_AGE_SECONDS, MAX_REPORTED_SALES, RELAY_REPORT_INTERVAL_MS, type RelayReport, RelayReportSchema } from '@ventesync/shared';
import type { UpstreamAnswer } from './classify.js';
import { LAST_RECONCILIATION_KEY } from './reconcile.js';
import type { RelayStore } from './relay-store.js';

/**
 * A registered relay's report of its state to the server, every minute over its signed link
 * (issue 11 point 5): the centre then sees every shop's backlog, and a relay gone silent.
 */

/** A report is small: its answer comes at once, or the next minute's report will do. */
export const REPORT_DEADLINE_MS = 10_000;

const clamp = (n: number, max: number) => Math.min(max, Math.max(0, Math.floor(n)));

/** A date recorded in `etat`, as the report carries it (null when absent or unreadable). */
function isoOrNull(text: string | null | undefined): string | null {
  if (!text) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : new Date(at).toISOString();
}

/** The last reconciliation's verdict (reconcile.ts, by hand or daily), if the relay has one that reads as the report needs it. */
function lastReconciliation(store: Pick<RelayStore, 'getEtat'>): RelayReport['derniere_reconciliation'] {
  const text = store.getEtat(LAST_RECONCILIATION_KEY);
  if (!text) return null;
  try {
    const r = JSON.parse(text) as Record<string, unknown>;
    const shape = RelayReportSchema.shape.derniere_reconciliation.safeParse({
      jour: r.jour,
      le: isoOrNull(typeof r.le === 'string' ? r.le : null),
      accord: r.accord,
      numeros_differents: r.numeros_differents,
      non_verifies: r.non_verifies,
    });
    return shape.success ? shape.data : null;
  } catch {
    return null;
  }
}

/** What the relay holds now, from its own file: counts by state, the oldest wait, the last success. */
export function buildRelayReport(store: Pick<RelayStore, 'summary' | 'getEtat'>, now: Date, version: string): RelayReport {
  const rows = store.summary();
  const sum = (key: 'en_attente' | 'rejetees' | 'abandonnees' | 'synchronisees') =>
    clamp(rows.reduce((n, r) => n + (r[key] ?? 0), 0), MAX_REPORTED_SALES);
  const oldest = rows
    .map((r) => r.plus_ancienne_en_attente)
    .filter((d): d is string => d !== null)
    .sort()[0];
  const oldestAt = oldest ? Date.parse(oldest) : Number.NaN;
  return {
    version,
    ventes: { en_attente: sum('en_attente'), rejetees: sum('rejetees'), abandonnees: sum('abandonnees'), synchronisees: sum('synchronisees') },
    // A wait that reads negative (the clock set back since) is a wait that just began.
    attente_plus_ancienne_s: Number.isNaN(oldestAt) ? null : clamp((now.getTime() - oldestAt) / 1000, MAX_REPORTED_AGE_SECONDS),
    dernier_succes: isoOrNull(store.getEtat('derniere_sync')),
    derniere_reconciliation: lastReconciliation(store),
  };
}

export interface ReporterLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RelayReporterDeps {
  store: Pick<RelayStore, 'summary' | 'getEtat'>;
  send: (body: string) => Promise<UpstreamAnswer>;
  logger: ReporterLogger;
  version: string;
  intervalMs?: number;
  now?: () => Date;
}

export type ReportOutcome = 'sent' | 'refused' | 'unreachable';

/**
 * Reports at start, then every `intervalMs`. A report the server could not take is not sent
 * again: the next one says the state as it is then. A refusal is logged once per change of
 * reason (a disabled relay would otherwise say so every minute).
 */
export function createRelayReporter(deps: RelayReporterDeps) {
  const intervalMs = deps.intervalMs ?? RELAY_REPORT_INTERVAL_MS;
  const now = deps.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<ReportOutcome> | null = null;
  let lastRefusal: string | null = null;

  async function reportOnce(): Promise<ReportOutcome> {
    const body = JSON.stringify(buildRelayReport(deps.store, now(), deps.version));
    const answer = await deps.send(body);
    if (answer.kind !== 'response') {
      deps.logger.debug({ raison: answer.reason }, 'Rapport au serveur non envoyé (serveur injoignable)');
      return 'unreachable';
    }
    if (answer.status >= 200 && answer.status < 300) {
      lastRefusal = null;
      return 'sent';
    }
    const code = String((answer.body as { code?: unknown } | null)?.code ?? answer.status);
    if (code !== lastRefusal) {
      lastRefusal = code;
      deps.logger.warn({ statut: answer.status, code, reponse: answer.body }, `Rapport d'état refusé par le serveur (${code})`);
    }
    return answer.status >= 500 ? 'unreachable' : 'refused';
  }

  /** One report at a time: a slow server never stacks them. */
  function tick(): Promise<ReportOutcome> {
    if (running) return running;
    running = reportOnce()
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, "Rapport d'état non envoyé");
        return 'unreachable' as const;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  return {
    reportOnce: tick,
    start(): void {
      void tick();
      timer = setInterval(() => void tick(), intervalMs);
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}
