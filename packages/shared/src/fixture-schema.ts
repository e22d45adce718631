import { z } from 'zod';
import { checkFuseau } from './local-day.js';
import { parseMoney } from './money.js';
import { hasUnprintable, isWellFormed, UNPRINTABLE_MESSAGE } from './vente-schema.js';

const ILL_FORMED = { error: 'contient des caractères invalides (texte Unicode mal formé)' };
const Id = z.int({ error: 'doit être un entier positif' }).min(1, { error: 'doit être un entier positif' });
/** A currency code (CDF, USD): a few letters; the bound keeps a mistaken file from storing a page. */
export const MAX_DEVISE_LENGTH = 16;
/** A boutique's, terminal's or article's name: what `boutique|terminal|article add` accept, no more. */
export const MAX_NOM_LENGTH = 200;
const Nom = z
  .string({ error: 'doit être un texte' })
  .trim()
  .min(1, { error: 'ne doit pas être vide' })
  .max(MAX_NOM_LENGTH, { error: `${MAX_NOM_LENGTH} caractères au maximum` })
  .refine(isWellFormed, ILL_FORMED)
  .refine((text) => !hasUnprintable(text), { error: UNPRINTABLE_MESSAGE });

/**
 * A serial as sent in X-Device-Serial: visible ASCII only, no surrounding blanks (the header is
 * trimmed). Node reads header bytes as Latin-1, so a serial such as `caisse-é` stored in UTF-8
 * could never match what a till sends; a control character would print raw in `terminal list`.
 */
export const MAX_SERIAL_LENGTH = 128;
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;
const Serial = z
  .string({ error: 'doit être un texte' })
  .trim()
  .min(1, { error: 'ne doit pas être vide' })
  .max(MAX_SERIAL_LENGTH, { error: `${MAX_SERIAL_LENGTH} caractères au maximum` })
  .regex(VISIBLE_ASCII, {
    error: 'ne doit contenir que des lettres sans accent, des chiffres et des signes ASCII visibles (ni espace, ni accent, ni caractère de contrôle)',
  });

// Entries are strict: a misspelt field (`"actf": false`) must not be dropped silently.
const unknownKey = { error: (issue: { code: string; keys?: string[] }) =>
  issue.code === 'unrecognized_keys' ? `champ inconnu : ${issue.keys?.join(', ')}` : 'doit être un objet' };

/** CONTRACT §7: whether a boutique's sales may take the stock below zero. */
export const STOCK_NEGATIF_CHOICES = ['refuser', 'autoriser'] as const;
export type StockNegatif = (typeof STOCK_NEGATIF_CHOICES)[number];

// An IANA zone name, stored as the zone database spells it; the refusal carries its code.
const Fuseau = z.string({ error: 'doit être un nom de fuseau IANA (ex. Africa/Kinshasa)' }).transform((name, ctx) => {
  const check = checkFuseau(name);
  if (check.ok) return check.fuseau;
  ctx.issues.push({ code: 'custom', input: name, message: `${check.erreur} (code ${check.code})` });
  return z.NEVER;
});

export const BoutiqueEntrySchema = z.strictObject(
  {
    id: Id,
    nom: Nom,
    devise: z
      .string({ error: 'doit être un texte' })
      .trim()
      .min(1, { error: 'ne doit pas être vide' })
      .max(MAX_DEVISE_LENGTH, { error: `${MAX_DEVISE_LENGTH} caractères au maximum` })
      .refine(isWellFormed, ILL_FORMED)
      .refine((text) => !hasUnprintable(text), { error: UNPRINTABLE_MESSAGE })
      .default('CDF'),
    // Absent: a new boutique gets UTC and 'refuser', an existing one keeps its own.
    fuseau: Fuseau.optional(),
    stock_negatif: z
      .enum(STOCK_NEGATIF_CHOICES, { error: `doit être ${STOCK_NEGATIF_CHOICES.map((c) => `"${c}"`).join(' ou ')} (code INVALID_STOCK_NEGATIF)` })
      .optional(),
  },
  unknownKey,
);

export const TerminalEntrySchema = z.strictObject(
  {
    serial: Serial,
    nom: Nom,
    boutique_id: Id,
    actif: z.boolean({ error: 'doit être un booléen' }).default(true),
  },
  unknownKey,
);

export const ArticleEntrySchema = z.strictObject(
  {
    id: Id,
    boutique_id: Id,
    nom: Nom,
    prix_vente: z.union([z.number(), z.string()], { error: 'doit être un montant' }).transform((value, ctx) => {
      const centimes = parseMoney(value);
      if (centimes === null) {
        ctx.issues.push({ code: 'custom', input: value, message: 'doit être un montant positif avec au plus 2 décimales' });
        return z.NEVER;
      }
      return centimes;
    }),
    stock: z.int({ error: 'doit être un entier positif ou nul' }).min(0, { error: 'doit être un entier positif ou nul' }).default(0),
  },
  unknownKey,
);

export const FIXTURE_SECTIONS = ['boutiques', 'terminaux', 'articles'] as const;

/**
 * The data file of `ventesync-server import` (CONTRACT.md section 4). Strict at the top: a
 * misspelt section (`"boutique"`) is an error, not a file that imports nothing.
 */
export const FixtureSchema = z.strictObject(
  {
    boutiques: z.array(BoutiqueEntrySchema, { error: 'doit être une liste' }).default([]),
    terminaux: z.array(TerminalEntrySchema, { error: 'doit être une liste' }).default([]),
    articles: z.array(ArticleEntrySchema, { error: 'doit être une liste' }).default([]),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `section inconnue : ${(issue as { keys?: string[] }).keys?.join(', ')} (attendu : ${FIXTURE_SECTIONS.join(', ')})`
        : 'le fichier doit contenir un objet JSON {boutiques, terminaux, articles}',
  },
);

export type Fixture = z.output<typeof FixtureSchema>;

/** Names each bad entry of a fixture file: `articles[2].prix_vente : doit être…`. */
export function fixtureIssueList(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
      .join('');
    return where ? `${where} : ${issue.message}` : issue.message;
  });
}

export function describeFixtureIssues(error: z.ZodError): string {
  return fixtureIssueList(error).join(' ; ');
}
