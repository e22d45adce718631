import { z } from 'zod';

// Created by helper C (OpenAPI, issue 7 point 10) because the OpenAPI document's query
// parameters are generated from this schema. Helper B (history filters, issue 7 point 4): this
// file is yours; keep it the one place the history query rules live, and keep a `.meta()`
// description on each field: openapi.ts turns each property into one query parameter
// (its input JSON Schema, so a preprocess step is invisible there and the target type shows;
// a `.default()` outside the preprocess would vanish from it: keep defaults inside).

export const MAX_HISTORIQUE_LIMIT = 500;
export const DEFAULT_HISTORIQUE_LIMIT = 50;

const DECIMAL = /^\d+$/;

/** Query strings carry text: only plain decimal digits become a number (`0x10`, `1e1`, ` 5` stay text and fail). */
const decimalInt = <T extends z.ZodType<number, number | undefined>>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value), schema);

// `AAAA-MM-JJ` (a real calendar day: 2025-02-30 fails) or ISO 8601 date-time with `Z` or an offset.
const DateBoundSchema = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

export const HistoriqueQuerySchema = z.object({
  limit: decimalInt(z.int().min(1).max(MAX_HISTORIQUE_LIMIT).default(DEFAULT_HISTORIQUE_LIMIT)).meta({
    description: `Nombre de ventes par page, de 1 à ${MAX_HISTORIQUE_LIMIT}`,
  }),
  offset: decimalInt(z.int().min(0).default(0)).meta({ description: 'Nombre de ventes à sauter (pagination)' }),
  date_debut: DateBoundSchema.optional().meta({
    description: 'Depuis ce jour (AAAA-MM-JJ, tout le jour UTC) ou cet instant (ISO 8601 avec fuseau), inclus',
    examples: ['2025-10-28'],
  }),
  date_fin: DateBoundSchema.optional().meta({
    description: "Jusqu'à ce jour (AAAA-MM-JJ, tout le jour UTC) ou cet instant (ISO 8601 avec fuseau), inclus",
    examples: ['2025-10-29'],
  }),
});

export type HistoriqueQuery = z.infer<typeof HistoriqueQuerySchema>;
