import { z } from 'zod';
import {
  MAX_ISSUE_LENGTH,
  MAX_ISSUES_PER_VENTE,
  MAX_LIGNES_PER_VENTE,
  MAX_NUMERO_LENGTH,
  MAX_QUOTED_INPUT_LENGTH,
  MAX_VENTES_PER_REQUEST,
} from './limits.js';
import { type Centimes, formatMoney, parseMoney } from './money.js';

export const MODES_PAIEMENT = ['CASH', 'MOBILE_MONEY', 'CARTE'] as const;
export type ModePaiement = (typeof MODES_PAIEMENT)[number];

const POSITIVE_INT = 'doit être un entier positif';
const ILL_FORMED = 'contient des caractères invalides (texte Unicode mal formé)';

// In a `u` regex a surrogate pair is one code point outside this class: only lone halves match.
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * A lone UTF-16 surrogate ("S\ud800") cannot be encoded as UTF-8: SQLite would store other
 * bytes than were sent, and .NET's JSON reader refuses such a string in an answer.
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

// C0, DEL and C1 control characters (Cc) and invisible format characters (Cf: zero-width
// space, bidi overrides, byte-order mark). In a numero they make two numeros that look the
// same differ, or drive the terminal of whoever lists the sales (`ESC ]0;…BEL` sets its title).
const UNPRINTABLE = /[\p{Cc}\p{Cf}]/u;
export const UNPRINTABLE_MESSAGE = 'ne doit contenir ni caractère de contrôle ni caractère invisible';

/**
 * The one rule for text people will read in a terminal or on a page (numeros, terminal and
 * boutique names, a reason typed on the shop page): no control or invisible character.
 */
export function hasUnprintable(text: string): boolean {
  return UNPRINTABLE.test(text);
}

// The instants the ISO form YYYY-MM-DDTHH:MM:SS.sssZ can hold: beyond them toISOString()
// writes `+010000-…`, which sorts and filters wrongly in the history.
const MIN_DATE_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_DATE_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** `date_vente` as sent (ISO 8601 with offset) → the same instant in UTC, years 0000–9999. */
export const DateVenteSchema = z.iso
  .datetime({ offset: true, error: 'doit être une date ISO 8601 avec fuseau (ex. 2025-10-29T02:45:00+01:00)' })
  .transform((text, ctx): string => {
    const time = Date.parse(text);
    if (!(time >= MIN_DATE_MS && time <= MAX_DATE_MS)) {
      ctx.issues.push({ code: 'custom', input: text, message: 'doit être une date entre les années 0000 et 9999 (en heure UTC)' });
      return z.NEVER;
    }
    return new Date(time).toISOString();
  });

// A till written in C# sends `null` for an unset nullable property: null means "absent" here.
const MoneyInputSchema = z
  .union([z.number(), z.string()], { error: 'doit être un nombre positif ou nul (ou une chaîne numérique)' })
  .transform((value, ctx): Centimes => {
    const centimes = parseMoney(value);
    if (centimes === null) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: 'doit être un montant positif ou nul avec au plus 2 décimales',
      });
      return z.NEVER;
    }
    return centimes;
  });

export const LigneInputSchema = z.object(
  {
    article_id: z.int({ error: "doit être l'identifiant (entier positif) d'un article" }).min(1, {
      error: "doit être l'identifiant (entier positif) d'un article",
    }).meta({ description: "Identifiant d'un article de la boutique du terminal", examples: [6] }),
    quantite: z
      .int({ error: POSITIVE_INT })
      .min(1, { error: POSITIVE_INT })
      .nullish()
      .meta({ description: 'Quantité vendue, entier positif', default: 1 }),
    prix_unitaire: MoneyInputSchema.nullish().meta({
      description: "Prix unitaire, nombre ou chaîne numérique, ≥ 0, au plus 2 décimales ; par défaut le prix_vente de l'article",
      examples: [40000, '19.99'],
    }),
  },
  { error: 'doit être un objet' },
).meta({ id: 'LigneVente', description: 'Une ligne de vente' });

export const VenteInputSchema = z.object(
  {
    numero_facture: z
      .string({ error: 'doit être une chaîne de caractères' })
      .max(MAX_NUMERO_LENGTH, { error: `doit faire au plus ${MAX_NUMERO_LENGTH} caractères` })
      .refine((numero) => numero.trim().length > 0, { error: 'ne doit pas être vide' })
      .refine(isWellFormed, { error: ILL_FORMED })
      .refine((numero) => !UNPRINTABLE.test(numero), { error: UNPRINTABLE_MESSAGE })
      .nullish()
      .meta({
        description: `Numéro de facture, unique dans la boutique, ${MAX_NUMERO_LENGTH} caractères au plus ; généré (VENTE-{boutique}-{AAAAMMJJHHMMSS UTC}-{index}) quand absent`,
        examples: ['VENTE-001'],
      }),
    mode_paiement: z
      .enum(MODES_PAIEMENT, { error: 'doit être CASH, MOBILE_MONEY ou CARTE' })
      .nullish()
      .meta({ description: 'Mode de paiement', default: 'CASH' }),
    paye: z.boolean({ error: 'doit être un booléen (true ou false)' }).nullish().meta({ description: 'Vente payée', default: true }),
    date_vente: DateVenteSchema.nullish().meta({
      description: "(ajouté) Quand la vente a eu lieu à la caisse, ISO 8601 avec fuseau ; par défaut l'heure de réception",
      examples: ['2025-10-29T02:45:00+01:00'],
    }),
    lignes: z
      .array(LigneInputSchema, { error: 'est obligatoire et doit être un tableau de lignes' })
      .min(1, { error: 'doit contenir au moins une ligne' })
      .max(MAX_LIGNES_PER_VENTE, { error: `ne peut pas dépasser ${MAX_LIGNES_PER_VENTE} lignes` })
      .meta({ description: 'Les lignes de la vente (obligatoire, au moins une)' }),
  },
  { error: 'doit être un objet JSON' },
).meta({ id: 'Vente', description: 'Une vente telle que la caisse l’envoie ; les champs inconnus sont ignorés' });

export const SyncRequestSchema = z
  .array(VenteInputSchema)
  .max(MAX_VENTES_PER_REQUEST)
  .meta({ id: 'LotVentes', description: `Un lot de ventes, ${MAX_VENTES_PER_REQUEST} au plus` });

export interface LigneNormalisee {
  article_id: number;
  quantite: number;
  /** null: the till sent no price, the article's `prix_vente` applies. */
  prix_unitaire: Centimes | null;
}

export interface VenteNormalisee {
  numero_facture: string | null;
  mode_paiement: ModePaiement;
  paye: boolean;
  /** ISO 8601 in UTC, or null: the time the server receives it. */
  date_vente: string | null;
  lignes: LigneNormalisee[];
}

export type VenteValidation = { ok: true; vente: VenteNormalisee } | { ok: false; erreur: string };

/** Cuts text to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncateText(text: string, max: number, ellipsis = '…'): string {
  if (text.length <= max) return text;
  let end = max - ellipsis.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end) + ellipsis;
}

// Never serialises a structure: a sale may hold 5,000 nested arrays, and JSON.stringify
// recurses (it overflows the stack well before JSON.parse gives up).
function describeInput(input: unknown): string {
  if (input === undefined) return 'absent';
  if (input === null) return 'null';
  if (typeof input === 'string') {
    // Cut before quoting: JSON.stringify then escapes any lone surrogate as plain \uXXXX text.
    return JSON.stringify(truncateText(input, MAX_QUOTED_INPUT_LENGTH, '...'));
  }
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  if (Array.isArray(input)) return `un tableau de ${input.length} élément(s)`;
  return typeof input === 'object' ? 'un objet' : typeof input;
}

/** The value at an issue's path in the sale as sent (a few steps: field, line, line field). */
function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || typeof key === 'symbol' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown, subject: string): string {
  const [first, lineIndex, field] = issue.path;
  // Our own issues carry their input; zod's are looked up in the sale as sent.
  const input = 'input' in issue ? issue.input : valueAt(raw, issue.path);
  const message = typeof input === 'string' && !isWellFormed(input) ? ILL_FORMED : issue.message;
  const received = `(reçu : ${describeInput(input)})`;
  let text: string;
  if (first === 'lignes' && typeof lineIndex === 'number') {
    const where = field === undefined ? `Ligne ${lineIndex + 1}` : `Ligne ${lineIndex + 1} : le champ ${String(field)}`;
    text = `${where} ${message} ${received}`;
  } else if (first === undefined) {
    text = `${subject} ${message}`;
  } else {
    text = `Le champ ${String(first)} ${message} ${received}`;
  }
  return truncateText(text, MAX_ISSUE_LENGTH);
}

/**
 * At most MAX_ISSUES_PER_VENTE issues, each at most MAX_ISSUE_LENGTH long: a sale with 1,000
 * bad lines must not turn a 1 MB request into a 22 MB answer.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown, subject = 'La vente'): string {
  const shown = issues.slice(0, MAX_ISSUES_PER_VENTE).map((issue) => describeIssue(issue, raw, subject));
  const more = issues.length - shown.length;
  if (more > 0) shown.push(`… et ${more} autre(s) problème(s)`);
  return shown.join(' ; ');
}

/** Validates one element of a sync request, with French messages naming the field and line. */
export function validateVente(raw: unknown): VenteValidation {
  const parsed = VenteInputSchema.safeParse(raw);
  if (!parsed.success) {
    // Bad values are quoted from the sale itself: a second parse with reportInput doubled the
    // cost of a batch of bad sales (1.15 s of blocked event loop for 4.8 MiB).
    return { ok: false, erreur: describeIssues(parsed.error.issues, raw) };
  }
  const v = parsed.data;
  return {
    ok: true,
    vente: {
      numero_facture: v.numero_facture ?? null,
      mode_paiement: v.mode_paiement ?? 'CASH',
      paye: v.paye ?? true,
      date_vente: v.date_vente ?? null,
      lignes: v.lignes.map((l) => ({
        article_id: l.article_id,
        quantite: l.quantite ?? 1,
        prix_unitaire: l.prix_unitaire ?? null,
      })),
    },
  };
}

/**
 * The raw `numero_facture` of a refused element, for its error report, when it could be a real
 * numero: a 4 MB numero would be echoed whole, and a lone surrogate makes .NET refuse the answer.
 */
export function rawNumero(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const numero = (raw as { numero_facture?: unknown }).numero_facture;
  if (typeof numero !== 'string' || numero.length > MAX_NUMERO_LENGTH || numero.trim() === '') return null;
  return isWellFormed(numero) && !UNPRINTABLE.test(numero) ? numero : null;
}

/** The sale as a till would send it, prices as exact strings: what the relay forwards. */
export function venteToWire(vente: VenteNormalisee): Record<string, unknown> {
  return {
    numero_facture: vente.numero_facture,
    mode_paiement: vente.mode_paiement,
    paye: vente.paye,
    ...(vente.date_vente ? { date_vente: vente.date_vente } : {}),
    lignes: vente.lignes.map((l) => ({
      article_id: l.article_id,
      quantite: l.quantite,
      ...(l.prix_unitaire === null ? {} : { prix_unitaire: formatMoney(l.prix_unitaire) }),
    })),
  };
}
