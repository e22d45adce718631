import { z } from 'zod';
import { RETURN_ERROR_CODES } from './error-codes.js';
import { MAX_SYNC_ANSWER_BYTES } from './limits.js';
import { LigneCreeeSchema, MoneyStringSchema } from './response-schemas.js';
import { retoursMessage } from './retour-schema.js';

// The answer to a batch of returns: the sync endpoint's envelope (success, message, boutique,
// terminal, statistiques), with `retours_crees` and `retours_erreurs` in place of the sales.

export const RetourCreeSchema = z
  .object({
    numero_retour: z.string(),
    numero_facture: z.string().meta({ description: 'La vente rendue' }),
    montant_total: MoneyStringSchema.meta({
      description: 'Montant rendu : Σ prix_unitaire × quantite, aux prix de la vente (les unités rendues sont prises dans les lignes de la vente, dans leur ordre)',
    }),
    lignes: z.array(LigneCreeeSchema),
    lignes_omises: z
      .int()
      .optional()
      .meta({ description: "présent seulement quand la réponse serait trop lourde (plus d'1 Mio) : lignes est vide, le retour est pourtant enregistré entier" }),
  })
  .meta({ id: 'RetourCree', description: 'Un retour enregistré (stock remis, mouvement RETOUR)' });

export const RetourExistantSchema = z
  .object({
    numero_retour: z.string(),
    numero_facture: z.string(),
    montant_total: MoneyStringSchema,
    date_retour: z.string().meta({ description: 'ISO 8601, en UTC' }),
  })
  .meta({ id: 'RetourExistant', description: 'Le retour déjà enregistré sous ce numéro' });

export const RetourErreurSchema = z
  .object({
    index: z.int().meta({ description: 'Position du retour dans la requête, à partir de 1' }),
    numero_retour: z.string().nullable().meta({ description: 'Le numéro envoyé, null quand il manquait ou était inutilisable' }),
    numero_facture: z.string().nullable().meta({ description: 'La vente visée, null quand elle manquait ou était inutilisable' }),
    erreur: z.string().meta({ description: 'La raison, en français' }),
    code: z.enum(RETURN_ERROR_CODES).meta({
      description:
        "SALE_NOT_FOUND : aucune vente de ce numéro dans la boutique du terminal ; RETURN_EXCEEDS_SALE : plus d'unités d'un article que la vente n'en a vendu, tous retours de cette vente confondus ; DUPLICATE : numero_retour déjà utilisé dans la boutique (ou plus tôt dans la requête) ; INVALID_RETURN : le retour est mal formé (le message nomme le champ et la ligne)",
    }),
    retour_existant: RetourExistantSchema.nullable().optional().meta({ description: 'DUPLICATE seulement' }),
    identique: z.boolean().optional().meta({
      description:
        'DUPLICATE seulement : true quand le serveur a déjà ce retour-ci (même terminal, même vente, mêmes articles et quantités, même motif, même date_retour si envoyée) : la caisse peut le marquer synchronisé',
    }),
  })
  .meta({ id: 'RetourErreur', description: 'Un retour refusé ; rien de lui n’est écrit, les autres retours du lot ne sont pas touchés' });

export const RetoursResponseSchema = z
  .object({
    success: z.boolean().meta({ description: 'true quand au moins un retour a été enregistré' }),
    message: z.string().meta({ examples: ['1 retour(s) enregistré(s) avec succès'] }),
    boutique_id: z.int(),
    boutique_nom: z.string(),
    terminal: z.string().meta({ description: 'Nom du terminal' }),
    statistiques: z
      .object({
        total_envoyees: z.int().meta({ description: 'Nombre de retours dans la requête' }),
        reussies: z.int().meta({ description: 'Nombre de retours enregistrés' }),
        erreurs: z.int().meta({ description: 'Nombre de retours refusés' }),
      })
      .meta({ id: 'RetoursStatistiques', description: 'Les mêmes clés que pour les ventes' }),
    retours_crees: z.array(RetourCreeSchema),
    retours_erreurs: z.array(RetourErreurSchema).nullable().meta({ description: "null quand aucun retour n'est refusé" }),
  })
  .meta({ id: 'RetoursResponse', description: 'Réponse à un lot de retours (la forme de la réponse aux ventes)' });

export type RetourCree = z.infer<typeof RetourCreeSchema>;
export type RetourErreur = z.infer<typeof RetourErreurSchema>;
export type RetoursResponse = z.infer<typeof RetoursResponseSchema>;

export interface RetoursOutcome {
  crees: RetourCree[];
  erreurs: RetourErreur[];
}

const text = (value: string | null) => (value === null ? 4 : 6 * value.length + 2);

/** As for sales (see fitToAnswerBudget in sync-response.ts): echoed lines stop before 1 MiB. */
function fitToAnswerBudget(outcome: RetoursOutcome): RetourCree[] {
  let budget = MAX_SYNC_ANSWER_BYTES;
  for (const e of outcome.erreurs) budget -= 160 + text(e.numero_retour) + text(e.numero_facture) + text(e.erreur) + 200;
  for (const r of outcome.crees) budget -= 120 + text(r.numero_retour) + text(r.numero_facture);
  return outcome.crees.map((r) => {
    let cost = 0;
    for (const l of r.lignes) cost += 110 + text(l.article_nom);
    if (cost <= budget) {
      budget -= cost;
      return r;
    }
    return { ...r, lignes: [], lignes_omises: r.lignes.length };
  });
}

/** 201 when at least one return was recorded; 200 with success false otherwise (as for sales). */
export function buildRetoursAnswer(
  who: { boutique_id: number; boutique_nom: string; terminal: string },
  totalEnvoyes: number,
  outcome: RetoursOutcome,
): { status: 200 | 201; body: RetoursResponse } {
  const reussis = outcome.crees.length;
  return {
    status: reussis > 0 ? 201 : 200,
    body: {
      success: reussis > 0,
      message: retoursMessage(reussis),
      boutique_id: who.boutique_id,
      boutique_nom: who.boutique_nom,
      terminal: who.terminal,
      statistiques: { total_envoyees: totalEnvoyes, reussies: reussis, erreurs: outcome.erreurs.length },
      retours_crees: fitToAnswerBudget(outcome),
      retours_erreurs: outcome.erreurs.length > 0 ? outcome.erreurs : null,
    },
  };
}
