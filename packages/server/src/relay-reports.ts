import type { RelayReport } from '@ventesync/shared';
import { Gauge, METRIC_PREFIX, type Registry } from '@ventesync/runtime/metrics';
import type { Db } from './db/open-database.js';

/**
 * Every shop's relay seen from the centre (issue 11 point 5): each registered relay's last
 * report, one row per relay, replaced by the next (relais_rapports never grows past the relays),
 * and what operators must look at: the relays gone silent and the backlogs grown old.
 */

/** No report for this long: the relay is stopped, its PC off, or its network cut. */
export const SILENT_AFTER_MS = 10 * 60_000;
/** A sale waiting on a relay longer than this (at its last report) needs someone to look. */
export const STALE_PENDING_AFTER_SECONDS = 3600;
/** Per-relay metric series at most: a chain has tens of relays; this only bounds a mistake. */
export const MAX_RELAY_SERIES = 500;

export interface RelayOverview {
  id: number;
  nom: string;
  boutiques: number[];
  actif: boolean;
  /** The last report as the relay sent it, with when the server received it; null: none yet. */
  dernier_rapport: (RelayReport & { recu_le: string }) | null;
  /** No report for SILENT_AFTER_MS (or never), for an active relay. */
  silencieux: boolean;
  /** Its oldest waiting sale, at its last report, waited more than STALE_PENDING_AFTER_SECONDS. */
  en_retard: boolean;
}

export function createRelayReports(db: Db) {
  const stmt = {
    save: db.prepare<[number, string, string]>(`
      INSERT INTO relais_rapports (relais_id, recu_le, rapport) VALUES (?, ?, ?)
      ON CONFLICT (relais_id) DO UPDATE SET recu_le = excluded.recu_le, rapport = excluded.rapport`),
    overview: db.prepare<[], { id: number; nom: string; actif: number; boutiques: string; recu_le: string | null; rapport: string | null }>(`
      SELECT r.id, r.nom, r.actif,
             (SELECT json_group_array(boutique_id) FROM relais_boutiques WHERE relais_id = r.id) AS boutiques,
             rr.recu_le, rr.rapport
      FROM relais r LEFT JOIN relais_rapports rr ON rr.relais_id = r.id
      ORDER BY r.id`),
  };

  return {
    /** Replaces the relay's last report (the report is already validated: relay-report.ts in shared). */
    save(relayId: number, report: RelayReport, now: Date): void {
      stmt.save.run(relayId, now.toISOString(), JSON.stringify(report));
    },
    /** Every registered relay with its last report and its flags, as of `now`. */
    overview(now: Date): RelayOverview[] {
      return stmt.overview.all().map((row) => overviewOf({ ...row, boutiques: JSON.parse(row.boutiques) as number[] }, now));
    },
  };
}

/** A relay's row with its last report (as stored: JSON text) as operators see it at `now`: both backends. */
export function overviewOf(
  row: { id: number; nom: string; actif: number; boutiques: number[]; recu_le: string | null; rapport: string | null },
  now: Date,
): RelayOverview {
  const report = row.rapport === null ? null : (JSON.parse(row.rapport) as RelayReport);
  const actif = row.actif === 1;
  const silent = row.recu_le === null || now.getTime() - Date.parse(row.recu_le) > SILENT_AFTER_MS;
  return {
    id: row.id,
    nom: row.nom,
    boutiques: row.boutiques,
    actif,
    dernier_rapport: report && row.recu_le ? { ...report, recu_le: row.recu_le } : null,
    silencieux: actif && silent,
    en_retard: actif && (report?.attente_plus_ancienne_s ?? 0) > STALE_PENDING_AFTER_SECONDS,
  };
}

export type RelayReports = ReturnType<typeof createRelayReports>;

const BACKLOG_STATES = ['en_attente', 'rejetees', 'abandonnees', 'synchronisees'] as const;
/** The reports are read from the table at most this often for the gauges. */
export const METRICS_READ_EVERY_MS = 1_000;
type Reported = RelayOverview & { dernier_rapport: NonNullable<RelayOverview['dernier_rapport']> };

/**
 * The relays' last reports as gauges, read from the table when scraped (nothing on the sync
 * path). Labelled by relay id: a chain's relays are few (bounded by MAX_RELAY_SERIES). A relay
 * disabled, or without a report, has no series.
 */
export function registerRelayReportMetrics(
  registry: Registry,
  reports: { overview(now: Date): RelayOverview[] | Promise<RelayOverview[]> },
  now: () => Date,
): void {
  // Read once per scrape, not once per gauge: a scraper polling fast costs one small query a
  // second at most. The gauges of one scrape share one read, even while it is under way.
  let readAt = Number.NEGATIVE_INFINITY;
  let reported: Promise<Reported[]> = Promise.resolve([]);
  const latest = (): Promise<Reported[]> => {
    const at = now().getTime();
    if (at - readAt >= METRICS_READ_EVERY_MS || at < readAt) {
      reported = Promise.resolve(reports.overview(new Date(at))).then((rows) =>
        rows.filter((r): r is Reported => r.actif && r.dernier_rapport !== null).slice(0, MAX_RELAY_SERIES),
      );
      readAt = at;
    }
    return reported;
  };
  const each = async (gauge: Gauge, set: (r: Reported) => void) => {
    const rows = await latest();
    gauge.reset();
    for (const r of rows) set(r);
  };
  new Gauge({
    name: `${METRIC_PREFIX}relay_report_timestamp_seconds`,
    help: 'Heure (Unix) du dernier rapport reçu de chaque relais enregistré actif',
    labelNames: ['relay'],
    registers: [registry],
    collect() {
      return each(this, (r) => this.set({ relay: String(r.id) }, Date.parse(r.dernier_rapport.recu_le) / 1000));
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}relay_report_silent`,
    help: `1 quand le relais n’a pas fait de rapport depuis ${SILENT_AFTER_MS / 60_000} min`,
    labelNames: ['relay'],
    registers: [registry],
    collect() {
      return each(this, (r) => this.set({ relay: String(r.id) }, r.silencieux ? 1 : 0));
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}relay_report_backlog_sales`,
    help: 'Ventes gardées par le relais, par état, à son dernier rapport',
    labelNames: ['relay', 'state'],
    registers: [registry],
    collect() {
      return each(this, (r) => {
        for (const state of BACKLOG_STATES) this.set({ relay: String(r.id), state }, r.dernier_rapport.ventes[state]);
      });
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}relay_report_oldest_pending_age_seconds`,
    help: 'Âge de la plus ancienne vente en attente sur le relais, à son dernier rapport (0 : aucune)',
    labelNames: ['relay'],
    registers: [registry],
    collect() {
      return each(this, (r) => this.set({ relay: String(r.id) }, r.dernier_rapport.attente_plus_ancienne_s ?? 0));
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}relay_report_last_success_timestamp_seconds`,
    help: 'Heure (Unix) du dernier envoi réussi du relais, à son dernier rapport',
    labelNames: ['relay'],
    registers: [registry],
    collect() {
      return each(this, (r) => {
        if (r.dernier_rapport.dernier_succes) this.set({ relay: String(r.id) }, Date.parse(r.dernier_rapport.dernier_succes) / 1000);
      });
    },
  });
}

const two = (n: number) => String(n).padStart(2, '0');

/** "25/11 12:03" on this machine's clock: the day and time a report came in. */
function shortLocal(iso: string): string {
  const d = new Date(iso);
  return `${two(d.getDate())}/${two(d.getMonth() + 1)} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A wait for people: "45 s", "12 min", "2 h 05", "3 j 4 h". */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${two(Math.floor((seconds % 3600) / 60))}`;
  return `${Math.floor(seconds / 86_400)} j ${Math.floor((seconds % 86_400) / 3600)} h`;
}

/** Names longer than this are cut in the table (the JSON keeps them whole). */
const NAME_SHOWN_CHARS = 14;

/** `relais list` for people: one line per relay, its last report and its alert. */
type RelayListRow = Record<'id' | 'nom' | 'boutiques' | 'rapport' | 'en_attente' | 'depuis' | 'rejetees' | 'alerte', string>;

export const RELAY_LIST_COLUMNS: ReadonlyArray<[keyof RelayListRow, string]> = [
  ['id', 'ID'],
  ['nom', 'NOM'],
  ['boutiques', 'BOUTIQUES'],
  ['rapport', 'RAPPORT'],
  ['en_attente', 'ATTENTE'],
  ['depuis', 'DEPUIS'],
  ['rejetees', 'REJET.'],
  ['alerte', 'ALERTE'],
];

export function relayListRow(r: RelayOverview): RelayListRow {
  const report = r.dernier_rapport;
  const flags = [r.silencieux ? 'SILENCE' : null, r.en_retard ? 'RETARD' : null].filter((f) => f !== null);
  return {
    id: String(r.id),
    nom: r.nom.length > NAME_SHOWN_CHARS ? `${r.nom.slice(0, NAME_SHOWN_CHARS - 1)}…` : r.nom,
    boutiques: r.boutiques.join(', '),
    rapport: report ? shortLocal(report.recu_le) : 'aucun',
    en_attente: report ? String(report.ventes.en_attente) : '',
    depuis: report?.attente_plus_ancienne_s != null ? formatAge(report.attente_plus_ancienne_s) : '',
    rejetees: report ? String(report.ventes.rejetees) : '',
    alerte: !r.actif ? 'désactivé' : flags.length > 0 ? flags.join('+') : 'ok',
  };
}

/** What the alerts mean, under the table, when one is shown. */
export function relayListNotes(rows: readonly RelayOverview[]): string[] {
  const notes: string[] = [];
  if (rows.some((r) => r.silencieux)) {
    notes.push(`SILENCE : aucun rapport depuis ${SILENT_AFTER_MS / 60_000} min (relais arrêté, PC éteint, réseau coupé ?)`);
  }
  if (rows.some((r) => r.en_retard)) {
    notes.push(`RETARD : une vente attend sur le relais depuis plus de ${formatAge(STALE_PENDING_AFTER_SECONDS)}`);
  }
  return notes;
}
