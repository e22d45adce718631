import { hash } from 'node:crypto';
import { z } from 'zod';
import { type ErrorBody, errorBody, statusOf } from './error-codes.js';
import { MAX_LIGNES_PER_VENTE, MAX_NUMERO_LENGTH, MAX_VENTES_PER_REQUEST } from './limits.js';
import { DateVenteSchema, describeIssues, isWellFormed } from './vente-schema.js';

// Returns (retours): a till gives back part or all of a stored sale. The same limits as sales
// (batch size, body size, lines, numeros, Unicode, dates): one rule set for the tills to learn.

export const RETOURS_PATH = '/api/v2/simple/ventes/retours/';
/** Most returns in one request: as for sales. */
export const MAX_RETOURS_PER_REQUEST = MAX_VENTES_PER_REQUEST;
/** Most lines in one return: as for a sale. */
export const MAX_LIGNES_PER_RETOUR = MAX_LIGNES_PER_VENTE;
/** A reason said in a few words ("écran cassé", "mauvaise taille"), not a letter. */
export const MAX_MOTIF_LENGTH = 200;

const POSITIVE_INT = 'doit être un entier positif';
const ILL_FORMED = 'contient des caractères invalides (texte Unicode mal formé)';
// Control and invisible characters, as in a sale's numero: two numeros that look alike must be
// equal, and a listing must not drive the operator's terminal.
const UNPRINTABLE = /[\p{Cc}\p{Cf}]/u;
const UNPRINTABLE_MESSAGE = 'ne doit contenir ni caractère de contrôle ni caractère invisible';

const numeroSchema = (description: string, example: string) =>
  z
    .string({ error: 'est obligatoire et doit être une chaîne de caractères' })
    .max(MAX_NUMERO_LENGTH, { error: `doit faire au plus ${MAX_NUMERO_LENGTH} caractères` })
    .refine((numero) => numero.trim().length > 0, { error: 'ne doit pas être vide' })
    .refine(isWellFormed, { error: ILL_FORMED })
    .refine((numero) => !UNPRINTABLE.test(numero), { error: UNPRINTABLE_MESSAGE })
    .meta({ description, examples: [example] });

export const LigneRetourInputSchema = z
  .object(
    {
      article_id: z
        .int({ error: "doit être l'identifiant (entier positif) d'un article" })
        .min(1, { error: "doit être l'identifiant (entier positif) d'un article" })
        .meta({ description: "Identifiant d'un article de la vente", examples: [6] }),
      quantite: z
        .int({ error: POSITIVE_INT })
        .min(1, { error: POSITIVE_INT })
        .nullish()
        .meta({ description: 'Quantité rendue, entier positif', default: 1 }),
    },
    { error: 'doit être un objet' },
  )
  .meta({ id: 'LigneRetour', description: "Une ligne d'un retour : un article de la vente et la quantité rendue" });

export const RetourInputSchema = z
  .object(
    {
      numero_retour: numeroSchema(
        `Numéro du retour, unique dans la boutique, ${MAX_NUMERO_LENGTH} caractères au plus (obligatoire : il rend le renvoi sans risque)`,
        'RET-001',
      ),
      numero_facture: numeroSchema('Numéro de la vente rendue, une vente de la boutique du terminal', 'VENTE-001'),
      lignes: z
        .array(LigneRetourInputSchema, { error: 'est obligatoire et doit être un tableau de lignes' })
        .min(1, { error: 'doit contenir au moins une ligne' })
        .max(MAX_LIGNES_PER_RETOUR, { error: `ne peut pas dépasser ${MAX_LIGNES_PER_RETOUR} lignes` })
        .meta({ description: 'Les articles rendus (au moins une ligne) ; deux lignes du même article comptent ensemble' }),
      motif: z
        .string({ error: 'doit être une chaîne de caractères' })
        .max(MAX_MOTIF_LENGTH, { error: `doit faire au plus ${MAX_MOTIF_LENGTH} caractères` })
        .refine(isWellFormed, { error: ILL_FORMED })
        .refine((motif) => !UNPRINTABLE.test(motif), { error: UNPRINTABLE_MESSAGE })
        .nullish()
        .meta({ description: `La raison du retour, ${MAX_MOTIF_LENGTH} caractères au plus`, examples: ['écran cassé'] }),
      date_retour: DateVenteSchema.nullish().meta({
        description: "Quand le retour a eu lieu à la caisse, ISO 8601 avec fuseau ; par défaut l'heure de réception",
        examples: ['2025-10-29T18:10:00+01:00'],
      }),
    },
    { error: 'doit être un objet JSON' },
  )
  .meta({ id: 'Retour', description: "Un retour d'articles d'une vente enregistrée ; les champs inconnus sont ignorés" });

export const RetoursRequestSchema = z
  .array(RetourInputSchema)
  .max(MAX_RETOURS_PER_REQUEST)
  .meta({ id: 'LotRetours', description: `Un lot de retours, ${MAX_RETOURS_PER_REQUEST} au plus` });

export interface LigneRetourNormalisee {
  article_id: number;
  quantite: number;
}

export interface RetourNormalise {
  numero_retour: string;
  numero_facture: string;
  lignes: LigneRetourNormalisee[];
  motif: string | null;
  /** ISO 8601 in UTC, or null: the time the server receives it. */
  date_retour: string | null;
}

export type RetourValidation = { ok: true; retour: RetourNormalise } | { ok: false; erreur: string };

/** Validates one element of a returns request, with French messages naming the field and line. */
export function validateRetour(raw: unknown): RetourValidation {
  const parsed = RetourInputSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, erreur: describeIssues(parsed.error.issues, raw, 'Le retour') };
  const r = parsed.data;
  return {
    ok: true,
    retour: {
      numero_retour: r.numero_retour,
      numero_facture: r.numero_facture,
      lignes: r.lignes.map((l) => ({ article_id: l.article_id, quantite: l.quantite ?? 1 })),
      motif: r.motif ?? null,
      date_retour: r.date_retour ?? null,
    },
  };
}

/**
 * A field of a refused element for its error report, when it could be a real numero (the
 * same caution as for a sale's: never a 4 MB or ill-formed string echoed).
 */
export function rawRetourField(raw: unknown, field: 'numero_retour' | 'numero_facture'): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const value = (raw as Record<string, unknown>)[field];
  if (typeof value !== 'string' || value.length > MAX_NUMERO_LENGTH || value.trim() === '') return null;
  return isWellFormed(value) && !UNPRINTABLE.test(value) ? value : null;
}

/** The same articles with their quantities summed, in the order they first appear. */
export function mergeLignesRetour(lignes: readonly LigneRetourNormalisee[]): LigneRetourNormalisee[] {
  const merged = new Map<number, number>();
  for (const l of lignes) merged.set(l.article_id, (merged.get(l.article_id) ?? 0) + l.quantite);
  return [...merged].map(([article_id, quantite]) => ({ article_id, quantite }));
}

const RETOUR_FINGERPRINT_PREFIX = 'r1:';

/**
 * The normalised content of a return (the sale it refers to, articles and quantities summed
 * and sorted, motif, and the till's `date_retour`, null when it sent none), hashed: what
 * `identique` compares, as for sales.
 */
export function retourFingerprint(retour: RetourNormalise): string {
  const lignes = mergeLignesRetour(retour.lignes)
    .map((l) => [l.article_id, l.quantite] as const)
    .sort((a, b) => a[0] - b[0]);
  const content = JSON.stringify([retour.numero_facture, retour.motif, retour.date_retour, lignes]);
  return RETOUR_FINGERPRINT_PREFIX + hash('sha256', content, 'base64url');
}

export type RetoursBatchCheck = { ok: true; items: unknown[] } | { ok: false; status: number; body: ErrorBody };

/** Request-level shape check of a parsed returns body; each element is then validated on its own. */
export function checkRetoursBatch(body: unknown): RetoursBatchCheck {
  if (!Array.isArray(body)) {
    return {
      ok: false,
      status: statusOf('INVALID_FORMAT'),
      body: errorBody('INVALID_FORMAT', 'Format invalide: un tableau de retours est attendu'),
    };
  }
  if (body.length > MAX_RETOURS_PER_REQUEST) {
    return {
      ok: false,
      status: statusOf('BATCH_TOO_LARGE'),
      body: errorBody(
        'BATCH_TOO_LARGE',
        `Trop de retours dans une requête : ${body.length} reçus, ${MAX_RETOURS_PER_REQUEST} au maximum. Envoyez-les par lots.`,
        { limit: MAX_RETOURS_PER_REQUEST, received: body.length },
      ),
    };
  }
  return { ok: true, items: body };
}

export function retoursMessage(created: number): string {
  return `${created} retour(s) enregistré(s) avec succès`;
}
