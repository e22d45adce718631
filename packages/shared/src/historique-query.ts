import { z } from 'zod';
import { localDayStartMs, nextDay } from './local-day.js';

// The history's query parameters, the one place their rules live: the server validates with
// this schema and openapi.ts turns each property into one query parameter (its input JSON
// Schema: a preprocess step is invisible there and the target type shows, so defaults stay
// inside it). Each field keeps a `.meta()` description for the document.

export const MAX_HISTORIQUE_LIMIT = 500;
export const DEFAULT_HISTORIQUE_LIMIT = 50;
/** Paging deeper than this is refused: past a million sales, filter by date instead. */
export const MAX_HISTORIQUE_OFFSET = 1_000_000;

/** Dates are kept as ISO text in UTC, which sorts as time only within years 0000–9999. */
export const MIN_DATE_MS = Date.parse('0000-01-01T00:00:00.000Z');
export const MAX_DATE_MS = Date.parse('9999-12-31T23:59:59.999Z');

const DECIMAL = /^\d{1,16}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Query strings carry text: only plain decimal digits become a number (`0x10`, `1e3`, ` 5`,
 * `+5` stay text and fail); an empty value (`limit=`) counts as absent.
 */
const decimalInt = <T extends z.ZodType<number, number | undefined>>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value), schema);

/**
 * The instant a bound stands for, in ms: a day (`2025-10-29`) is its first instant in UTC.
 * Null when it is not a real day or ISO 8601 date-time with an offset, or falls outside years
 * 0000–9999 once in UTC (`9999-12-31T23:59:00-23:59` is year 10000 there).
 */
export function dateBoundMs(text: string): number | null {
  const time = Date.parse(DAY.test(text) ? `${text}T00:00:00.000Z` : text);
  return time >= MIN_DATE_MS && time <= MAX_DATE_MS ? time : null;
}

const DATE_RULE = 'date AAAA-MM-JJ réelle ou date-heure ISO 8601 avec fuseau (Z ou ±hh:mm), années 0000 à 9999';

// The guide's own example sends `date_debut=&date_fin=`: empty means no bound.
const DateBoundSchema = z.preprocess(
  (value) => (value === '' ? undefined : value),
  z
    .union([z.iso.date(), z.iso.datetime({ offset: true })], { error: DATE_RULE })
    .refine((text) => dateBoundMs(text) !== null, { error: DATE_RULE })
    .optional(),
);

export const HistoriqueQuerySchema = z.object({
  limit: decimalInt(
    z
      .int({ error: `entier de 1 à ${MAX_HISTORIQUE_LIMIT} attendu` })
      .min(1, { error: `entier de 1 à ${MAX_HISTORIQUE_LIMIT} attendu` })
      .max(MAX_HISTORIQUE_LIMIT, { error: `entier de 1 à ${MAX_HISTORIQUE_LIMIT} attendu` })
      .default(DEFAULT_HISTORIQUE_LIMIT),
  ).meta({ description: `Nombre de ventes par page, de 1 à ${MAX_HISTORIQUE_LIMIT} (chiffres décimaux seulement)` }),
  offset: decimalInt(
    z
      .int({ error: `entier de 0 à ${MAX_HISTORIQUE_OFFSET} attendu` })
      .min(0, { error: `entier de 0 à ${MAX_HISTORIQUE_OFFSET} attendu` })
      .max(MAX_HISTORIQUE_OFFSET, { error: `entier de 0 à ${MAX_HISTORIQUE_OFFSET} attendu` })
      .default(0),
  ).meta({ description: `Nombre de ventes à sauter (pagination), de 0 à ${MAX_HISTORIQUE_OFFSET}` }),
  date_debut: DateBoundSchema.meta({
    description: 'Depuis ce jour (AAAA-MM-JJ, tout le jour dans le fuseau de la boutique) ou cet instant (ISO 8601 avec fuseau), inclus',
    examples: ['2025-10-28'],
  }),
  date_fin: DateBoundSchema.meta({
    description: "Jusqu'à ce jour (AAAA-MM-JJ, tout le jour dans le fuseau de la boutique) ou cet instant (ISO 8601 avec fuseau), inclus",
    examples: ['2025-10-29'],
  }),
});

export type HistoriqueQuery = z.infer<typeof HistoriqueQuerySchema>;

/** The last day whose end ISO text can hold: the day after it is past year 9999. */
const LAST_DAY = '9999-12-31';

/**
 * A valid query's date filters as UTC ISO bounds: `from` inclusive, `to` exclusive; null is
 * open. A day (`AAAA-MM-JJ`) is the boutique's local day in `fuseau` (CONTRACT §7): in
 * Africa/Kinshasa, `2025-10-29` runs from `2025-10-28T23:00:00.000Z` to `2025-10-29T23:00:00.000Z`.
 */
export function historiqueBounds(
  query: Pick<HistoriqueQuery, 'date_debut' | 'date_fin'>,
  fuseau = 'UTC',
): { from: string | null; to: string | null } {
  const debut = query.date_debut;
  const fin = query.date_fin;
  const from = debut === undefined ? null : DAY.test(debut) ? localDayStartMs(debut, fuseau) : dateBoundMs(debut);
  // The end of a day is the next day's first instant; of an instant, the next millisecond.
  const finMs = fin === undefined || DAY.test(fin) ? null : dateBoundMs(fin);
  const to =
    fin !== undefined && DAY.test(fin) ? (fin === LAST_DAY ? null : localDayStartMs(nextDay(fin), fuseau)) : finMs === null ? null : finMs + 1;
  return {
    // Before year 0000 or past year 9999 (a local day at the very ends), ISO text would not sort
    // as time: no bound then, which is what such a bound means.
    from: from === null || from < MIN_DATE_MS ? null : new Date(from).toISOString(),
    to: to === null || to > MAX_DATE_MS ? null : new Date(to).toISOString(),
  };
}
