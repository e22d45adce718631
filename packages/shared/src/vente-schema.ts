import { z } from 'zod';
import { MAX_LIGNES_PER_VENTE, MAX_NUMERO_LENGTH, MAX_VENTES_PER_REQUEST } from './limits.js';
import { type Centimes, formatMoney, parseMoney } from './money.js';

export const MODES_PAIEMENT = ['CASH', 'MOBILE_MONEY', 'CARTE'] as const;
export type ModePaiement = (typeof MODES_PAIEMENT)[number];

const POSITIVE_INT = 'doit être un entier positif';

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
    }),
    quantite: z.int({ error: POSITIVE_INT }).min(1, { error: POSITIVE_INT }).nullish(),
    prix_unitaire: MoneyInputSchema.nullish(),
  },
  { error: 'doit être un objet' },
);

export const VenteInputSchema = z.object(
  {
    numero_facture: z
      .string({ error: 'doit être une chaîne de caractères' })
      .max(MAX_NUMERO_LENGTH, { error: `doit faire au plus ${MAX_NUMERO_LENGTH} caractères` })
      .refine((numero) => numero.trim().length > 0, { error: 'ne doit pas être vide' })
      .nullish(),
    mode_paiement: z.enum(MODES_PAIEMENT, { error: 'doit être CASH, MOBILE_MONEY ou CARTE' }).nullish(),
    paye: z.boolean({ error: 'doit être un booléen (true ou false)' }).nullish(),
    date_vente: z.iso
      .datetime({ offset: true, error: 'doit être une date ISO 8601 avec fuseau (ex. 2025-10-29T02:45:00+01:00)' })
      .nullish(),
    lignes: z
      .array(LigneInputSchema, { error: 'est obligatoire et doit être un tableau de lignes' })
      .min(1, { error: 'doit contenir au moins une ligne' })
      .max(MAX_LIGNES_PER_VENTE, { error: `ne peut pas dépasser ${MAX_LIGNES_PER_VENTE} lignes` }),
  },
  { error: 'doit être un objet JSON' },
);

export const SyncRequestSchema = z.array(VenteInputSchema).max(MAX_VENTES_PER_REQUEST);

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

function describeInput(input: unknown): string {
  if (input === undefined) return 'absent';
  const text = JSON.stringify(input);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const [first, lineIndex, field] = issue.path;
  const received = `(reçu : ${describeInput(issue.input)})`;
  if (first === 'lignes' && typeof lineIndex === 'number') {
    const where = field === undefined ? `Ligne ${lineIndex + 1}` : `Ligne ${lineIndex + 1} : le champ ${String(field)}`;
    return `${where} ${issue.message} ${received}`;
  }
  if (first === undefined) return `La vente ${issue.message}`;
  return `Le champ ${String(first)} ${issue.message} ${received}`;
}

/** Validates one element of a sync request, with French messages naming the field and line. */
export function validateVente(raw: unknown): VenteValidation {
  const parsed = VenteInputSchema.safeParse(raw);
  if (!parsed.success) {
    // Parsed again to quote the bad values: reportInput doubles the cost of every valid sale.
    const reported = VenteInputSchema.safeParse(raw, { reportInput: true });
    return { ok: false, erreur: (reported.error ?? parsed.error).issues.map(describeIssue).join(' ; ') };
  }
  const v = parsed.data;
  return {
    ok: true,
    vente: {
      numero_facture: v.numero_facture ?? null,
      mode_paiement: v.mode_paiement ?? 'CASH',
      paye: v.paye ?? true,
      date_vente: v.date_vente ? new Date(v.date_vente).toISOString() : null,
      lignes: v.lignes.map((l) => ({
        article_id: l.article_id,
        quantite: l.quantite ?? 1,
        prix_unitaire: l.prix_unitaire ?? null,
      })),
    },
  };
}

/** The raw `numero_facture` of an element, when it is a usable string, for error reports. */
export function rawNumero(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const numero = (raw as { numero_facture?: unknown }).numero_facture;
  return typeof numero === 'string' && numero.trim() !== '' ? numero : null;
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
