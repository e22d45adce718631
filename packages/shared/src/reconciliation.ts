import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MAX_NUMERO_LENGTH } from './limits.js';
import { parseDay } from './local-day.js';
import { MoneyStringSchema } from './response-schemas.js';
import { hasUnprintable, isWellFormed } from './vente-schema.js';

// Reconciliation (CONTRACT §7): the server's account of one till's local day, in a form the
// relay can compare with its own books: a count, a total, and a fingerprint of every
// (numero, amount) pair, with the pairs themselves on request, a bounded page at a time.

export const RECONCILIATION_PATH = '/api/v2/simple/reconciliation/';

/**
 * Most sales one `detail=1` answer lists: 1,000 pairs stay under 100 KiB however long the
 * numeros. A longer day is read in pages: `suite` names the numero to pass as `apres`.
 */
export const MAX_RECONCILIATION_DETAIL = 1000;

/**
 * Most return numeros listed with one sale of a `detail=1` page: a sale with more has none
 * listed (its `montant_retours` still says what they took off), so a page stays bounded.
 */
export const MAX_RECONCILIATION_RETOURS_PER_VENTE = 100;

const JOUR_RULE = 'jour réel AAAA-MM-JJ attendu (ex. 2025-10-29), une seule fois';
const DETAIL_RULE = '1 (avec la liste des ventes) ou 0 attendu, une seule fois';
const APRES_RULE = `numéro de vente de 1 à ${MAX_NUMERO_LENGTH} caractères attendu, une seule fois (la valeur de « suite » de la page précédente)`;

// A repeated parameter reaches the route as an array: refused by the string types below, with
// the same rule as a wrong value (the message says "une seule fois").
export const ReconciliationQuerySchema = z
  .object({
    jour: z
      .string({ error: JOUR_RULE })
      .refine((text) => parseDay(text) !== null, { error: JOUR_RULE })
      .meta({ description: 'Le jour local de la boutique (son fuseau), AAAA-MM-JJ', examples: ['2025-10-29'] }),
    detail: z
      .preprocess(
        (value) => (value === '' ? undefined : value),
        z.enum(['0', '1'], { error: DETAIL_RULE }).optional(),
      )
      .meta({
        description: `1 : ajoute ventes, la liste des ventes du jour triée par numéro (octets UTF-8), ${MAX_RECONCILIATION_DETAIL} au plus par réponse`,
      }),
    apres: z
      .string({ error: APRES_RULE })
      .min(1, { error: APRES_RULE })
      .max(MAX_NUMERO_LENGTH, { error: APRES_RULE })
      // No stored numero holds these (vente-schema refuses them), and PostgreSQL's text cannot
      // even carry a NUL: refused here, the same on both backends.
      .refine((text) => isWellFormed(text) && !hasUnprintable(text), { error: APRES_RULE })
      .optional()
      .meta({
        description:
          'Avec detail=1 seulement : la page qui suit ce numéro (ordre des octets UTF-8) ; la valeur de suite de la réponse précédente',
      }),
  })
  .refine((query) => query.apres === undefined || query.detail === '1', {
    error: 'apres ne sert qu’avec detail=1',
    path: ['apres'],
  });

export type ReconciliationQuery = z.infer<typeof ReconciliationQuerySchema>;

export const ReconciliationVenteSchema = z
  .object({
    numero_facture: z.string(),
    montant_total: MoneyStringSchema.meta({ description: 'Montant de la vente, moins ses retours' }),
    montant_retours: MoneyStringSchema.optional().meta({
      description: '(ajouté) présent seulement quand la vente a des retours : leur montant, déjà déduit de montant_total',
    }),
    retours: z
      .array(z.string())
      .max(MAX_RECONCILIATION_RETOURS_PER_VENTE)
      .optional()
      .meta({
        description: `(ajouté) présent seulement quand la vente a des retours, ${MAX_RECONCILIATION_RETOURS_PER_VENTE} au plus : leurs numero_retour (ordre des octets UTF-8), pour que le relais nomme un retour qu'il a transmis et que le serveur n'a plus ; absent au-delà`,
      }),
  })
  .meta({ id: 'RapprochementVente' });

export const ReconciliationResponseSchema = z
  .object({
    success: z.boolean(),
    boutique_id: z.int().meta({ description: 'La boutique du terminal (désignée par X-Device-Serial)' }),
    terminal: z.string().meta({ description: 'Nom du terminal' }),
    jour: z.string().meta({ description: 'Le jour demandé, AAAA-MM-JJ (jour local de la boutique)' }),
    fuseau: z.string().meta({ description: '(ajouté) Le fuseau de la boutique qui définit ce jour (nom IANA)', examples: ['Africa/Kinshasa'] }),
    nombre_ventes: z.int().meta({ description: 'Nombre de ventes du terminal ce jour-là' }),
    montant_total: MoneyStringSchema.meta({ description: 'Somme de leurs montants, retours déduits' }),
    empreinte: z.string().regex(/^[0-9a-f]{64}$/).meta({
      description:
        'hex SHA-256 des lignes "{numero_facture}:{montant_total en centimes}\\n" triées par numero_facture (ordre des octets UTF-8) ; un jour sans vente hache la chaîne vide',
    }),
    ventes: z
      .array(ReconciliationVenteSchema)
      .optional()
      .meta({
        description: `detail=1 seulement : les ventes, triées comme l'empreinte, ${MAX_RECONCILIATION_DETAIL} au plus (à partir de apres)`,
      }),
    suite: z
      .string()
      .nullable()
      .optional()
      .meta({ description: '(ajouté) detail=1 seulement : à passer en apres pour la page suivante ; null quand la liste est complète' }),
  })
  .meta({ id: 'Rapprochement', description: 'Les ventes d’un terminal pour un jour local, à comparer avec celles du relais' });

export type ReconciliationResponse = z.infer<typeof ReconciliationResponseSchema>;

/** A sale as the fingerprint reads it: its numero and its amount (net of returns) in centimes. */
export interface ReconciliationLine {
  numero_facture: string;
  centimes: number;
}

/** UTF-8 byte order, as §7 sorts the fingerprint's lines (not JavaScript's UTF-16 order). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Texts sorted by their UTF-8 bytes; each encoded once (a day can hold 100,000 numeros). */
export function sortUtf8(texts: Iterable<string>): string[] {
  return [...texts]
    .map((text) => ({ text, bytes: Buffer.from(text, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((entry) => entry.text);
}

/**
 * The §7 fingerprint, fed line by line in the order given: the caller sorts (the server reads
 * the lines sorted by SQLite's byte order, the relay sorts with `sortUtf8`).
 */
export function createEmpreinte() {
  const hash = createHash('sha256');
  return {
    add(line: ReconciliationLine): void {
      hash.update(`${line.numero_facture}:${line.centimes}\n`, 'utf8');
    },
    hex: (): string => hash.digest('hex'),
  };
}
