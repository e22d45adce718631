import { z } from 'zod';

/**
 * A registered relay's report of its state to the server (issue 11 point 5), sent every minute
 * over its signed link (X-Relay-Id + X-Signature, no X-Device-Serial). The server keeps each
 * relay's last one, so that the centre sees every shop's backlog. Validated strictly: a field
 * unknown, a number negative, fractional or beyond reason, a date far in the future, and the
 * whole report is refused (400 INVALID_FORMAT), nothing stored.
 */
export const RELAY_REPORT_PATH = '/api/v2/simple/relais/etat/';

/** How often a running registered relay reports. */
export const RELAY_REPORT_INTERVAL_MS = 60_000;

/** More sales than any shop's relay holds: a count past it is a broken relay, not a backlog. */
export const MAX_REPORTED_SALES = 100_000_000;
/** Ten years, in seconds: an older wait is a broken clock. */
export const MAX_REPORTED_AGE_SECONDS = 10 * 365 * 24 * 3600;
/**
 * How far ahead of the server's clock a date of the report may be: the time a report takes
 * to arrive and an ordinary drift. The relay records its dates on its own clock; one set more
 * than this ahead (a shop PC set by hand) has its reports refused 400 INVALID_FORMAT, which its
 * log says once (relay-reporter.ts), while its `status` and page already warn of the clock gap
 * past 2 minutes (relay clock.ts, CLOCK_WARN_MS). A date from the future is never stored.
 */
export const MAX_REPORT_AHEAD_MS = 5 * 60_000;
/** A reconciled day is at most tomorrow in UTC terms: the shop's local day may run ahead of UTC by up to 14 h. */
const MAX_RECONCILED_DAYS_AHEAD = 1;
/** Dates before this are no report's. */
const EARLIEST_REPORT_DATE = Date.UTC(2020, 0, 1);

const count = z.int().min(0).max(MAX_REPORTED_SALES);
const instant = z.iso
  .datetime({ offset: true })
  .refine((text) => Date.parse(text) >= EARLIEST_REPORT_DATE, { message: 'date antérieure à 2020' });

export const RelayReportSchema = z
  .strictObject({
    version: z
      .string()
      .regex(/^[0-9A-Za-z.+-]{1,64}$/)
      .meta({ description: 'Version du relais (ex. 0.1.0)' }),
    ventes: z
      .strictObject({
        en_attente: count,
        rejetees: count,
        abandonnees: count,
        synchronisees: count,
      })
      .meta({ description: 'Ventes gardées par le relais, par état' }),
    attente_plus_ancienne_s: z
      .int()
      .min(0)
      .max(MAX_REPORTED_AGE_SECONDS)
      .nullable()
      .meta({ description: 'Secondes depuis la réception de la plus ancienne vente en attente ; null : aucune n’attend' }),
    dernier_succes: instant.nullable().meta({ description: 'Dernier envoi de ventes accepté par le serveur ; null : jamais' }),
    derniere_reconciliation: z
      .strictObject({
        jour: z.iso.date(),
        le: instant,
        accord: z.boolean(),
        numeros_differents: count,
        non_verifies: count,
      })
      .nullable()
      .meta({ description: 'Dernier rapprochement des comptes avec le serveur (CONTRACT §7) ; null : aucun' }),
  })
  .meta({ id: 'RelaisEtat', description: 'L’état d’un relais enregistré, envoyé chaque minute' });

export type RelayReport = z.infer<typeof RelayReportSchema>;

export const RelayReportResponseSchema = z
  .strictObject({
    success: z.literal(true),
    relais_id: z.int(),
    recu_le: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'RelaisEtatResponse', description: 'Rapport enregistré (il remplace le précédent de ce relais)' });

export type RelayReportResponse = z.infer<typeof RelayReportResponseSchema>;

/** The dates of a report, for the check against the server's clock. */
function datesOf(report: RelayReport): Array<[string, string]> {
  const dates: Array<[string, string]> = [];
  if (report.dernier_succes) dates.push(['dernier_succes', report.dernier_succes]);
  if (report.derniere_reconciliation) dates.push(['derniere_reconciliation.le', report.derniere_reconciliation.le]);
  return dates;
}

export type RelayReportCheck = { ok: true; report: RelayReport } | { ok: false; problemes: string[] };

/**
 * The schema, then what no relay's state can be: each date against `now`, the reconciled day
 * no later than tomorrow, waiting sales with the age of the oldest. Every problem at once, in words.
 */
export function checkRelayReport(body: unknown, now: Date): RelayReportCheck {
  const parsed = RelayReportSchema.safeParse(body);
  if (!parsed.success) {
    return { ok: false, problemes: parsed.error.issues.map((i) => `${i.path.join('.') || '(corps)'} : ${i.message}`) };
  }
  const report = parsed.data;
  const limit = now.getTime() + MAX_REPORT_AHEAD_MS;
  const problemes = datesOf(report)
    .filter(([, iso]) => Date.parse(iso) > limit)
    .map(
      ([field, iso]) =>
        `${field} : ${iso} est dans le futur (plus de ${MAX_REPORT_AHEAD_MS / 60_000} min après l’heure du serveur ; l’horloge du relais est-elle juste ?)`,
    );
  const lastDay = new Date(now.getTime() + MAX_RECONCILED_DAYS_AHEAD * 86_400_000).toISOString().slice(0, 10);
  const jour = report.derniere_reconciliation?.jour;
  if (jour !== undefined && jour > lastDay) problemes.push(`derniere_reconciliation.jour : ${jour} est après demain (${lastDay} au plus)`);
  if (report.ventes.en_attente > 0 && report.attente_plus_ancienne_s === null) {
    problemes.push(`attente_plus_ancienne_s : absente alors que ${report.ventes.en_attente} vente(s) attendent`);
  }
  return problemes.length > 0 ? { ok: false, problemes } : { ok: true, report };
}
