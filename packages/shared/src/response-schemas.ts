import { z } from 'zod';
import { REQUEST_ERROR_STATUS, type RequestErrorCode, SALE_ERROR_CODES } from './error-codes.js';
import { MAX_BODY_BYTES, MAX_VENTES_PER_REQUEST, SERIAL_HEADER } from './limits.js';
import { MODES_PAIEMENT } from './vente-schema.js';

// Every schema with an `id` below becomes one entry of the OpenAPI document's
// `components/schemas` (openapi.ts); descriptions are in French, for the people reading /docs.

/** Money on the wire: exact decimal text with two decimals, e.g. "40000.00". */
export const MoneyStringSchema = z
  .string()
  .regex(/^-?\d+\.\d{2}$/)
  .meta({ description: 'Montant exact, en texte avec deux décimales', examples: ['40000.00'] });

/** The HTTP statuses of the one code → status table, in increasing order. */
export const REQUEST_ERROR_STATUSES: readonly number[] = [...new Set(Object.values(REQUEST_ERROR_STATUS))].sort((a, b) => a - b);

/** The request-level codes answered with `status`, in the table's order. */
export function requestErrorCodesOf(status: number): RequestErrorCode[] {
  return (Object.keys(REQUEST_ERROR_STATUS) as RequestErrorCode[]).filter((code) => REQUEST_ERROR_STATUS[code] === status);
}

// What some statuses add to `{error, code}`: a client generated from the document sees them.
const ERROR_EXTRA_FIELDS: Partial<Record<number, z.ZodRawShape>> = {
  400: {
    header_required: z
      .string()
      .optional()
      .meta({ description: `MISSING_SERIAL seulement : le header à envoyer (${SERIAL_HEADER})`, examples: [SERIAL_HEADER] }),
  },
  413: {
    limit: z.int().meta({
      description: `La limite dépassée : BATCH_TOO_LARGE, le nombre maximal de ventes par requête (${MAX_VENTES_PER_REQUEST}) ; PAYLOAD_TOO_LARGE, la taille maximale du corps en octets (${MAX_BODY_BYTES})`,
    }),
    received: z
      .int()
      .optional()
      .meta({
        description:
          'Ce qui a été reçu, dans la même unité que limit : BATCH_TOO_LARGE, le nombre de ventes de la requête ; PAYLOAD_TOO_LARGE, la taille annoncée du corps en octets, quand elle est connue',
      }),
  },
};

function errorBodySchemaOf(status: number) {
  return z
    .object({
      error: z.string().meta({ description: 'Message en français, pour les personnes' }),
      code: z.enum(requestErrorCodesOf(status)).meta({ description: 'Code stable, pour les programmes' }),
      ...ERROR_EXTRA_FIELDS[status],
    })
    .meta({ id: `Erreur${status}`, description: `Corps d'une réponse ${status} : la requête entière est refusée` });
}

/** The error body of each status of the table: `code` is one of that status's codes. */
export const ERROR_BODY_SCHEMAS: ReadonlyMap<number, z.ZodObject> = new Map(
  REQUEST_ERROR_STATUSES.map((status) => [status, errorBodySchemaOf(status)]),
);

export const VENTE_STATUTS = ['EN_ATTENTE', 'SYNCHRONISEE', 'REJETEE'] as const;
export type VenteStatut = (typeof VENTE_STATUTS)[number];

const ARTICLE_NOM = z.string().meta({ description: "Nom de l'article" });
const QUANTITE = z.int().meta({ description: 'Quantité, en unités' });
const SUCCESS = z.boolean().meta({ description: 'true quand la requête a abouti' });
const BOUTIQUE_ID = z.int().meta({ description: 'La boutique du terminal (désignée par X-Device-Serial)' });

export const LigneCreeeSchema = z
  .object({
    article_nom: ARTICLE_NOM,
    quantite: QUANTITE,
    prix_unitaire: MoneyStringSchema,
    sous_total: MoneyStringSchema.meta({ description: 'prix_unitaire × quantite' }),
  })
  .meta({ id: 'LigneCreee', description: "Une ligne d'une vente créée" });

/** CONTRACT §7: what a created sale can carry for a person to look at. */
export const AVERTISSEMENT_CODES = ['STOCK_NEGATIF'] as const;

export const AvertissementSchema = z
  .object({
    code: z.enum(AVERTISSEMENT_CODES).meta({
      description: 'STOCK_NEGATIF : le stock manquait, la vente (déjà faite en boutique) est créée quand même et le stock passe sous zéro',
    }),
    article_id: z.int().meta({ description: "L'article dont le stock manquait" }),
    manque: z.int().meta({ description: 'Les unités vendues que le stock n’avait pas (le stock est maintenant sous zéro)' }),
  })
  .meta({ id: 'Avertissement', description: '(ajouté) Une vente créée malgré un problème à regarder' });

export const VenteCreeeSchema = z
  .object({
    numero_facture: z.string().meta({ description: 'Numéro de la vente (celui envoyé, ou généré)' }),
    montant_total: MoneyStringSchema.meta({ description: 'Σ prix_unitaire × quantite' }),
    lignes: z.array(LigneCreeeSchema),
    statut: z
      .enum(VENTE_STATUTS)
      .optional()
      .meta({ description: '(ajouté) relais seulement : EN_ATTENTE, le relais tient la vente et la transmettra' }),
    lignes_omises: z
      .int()
      .optional()
      .meta({
        description:
          "(ajouté) présent seulement quand la réponse serait trop lourde (plus d'1 Mio) : les lignes de cette vente ne sont pas détaillées ici (lignes est vide), elle est pourtant enregistrée entière",
      }),
    avertissements: z.array(AvertissementSchema).optional().meta({
      description:
        '(ajouté) présent seulement quand la vente est créée avec un avertissement : vente transmise par un relais enregistré ou boutique en stock_negatif "autoriser", stock insuffisant',
    }),
  })
  .meta({ id: 'VenteCreee', description: 'Une vente écrite (stock décrémenté)' });

export const VenteExistanteSchema = z
  .object({
    numero_facture: z.string(),
    montant_total: MoneyStringSchema,
    date_vente: z.string().meta({ description: 'ISO 8601, en UTC' }),
  })
  .meta({ id: 'VenteExistante', description: 'La vente déjà enregistrée sous ce numéro' });

export const VenteErreurSchema = z
  .object({
    index: z.int().meta({ description: 'Position de la vente dans la requête, à partir de 1' }),
    numero_facture: z.string().nullable().meta({ description: 'Le numéro envoyé, null quand il manquait ou était inutilisable' }),
    erreur: z.string().meta({ description: 'La raison, en français' }),
    code: z.enum(SALE_ERROR_CODES).meta({
      description:
        "DUPLICATE : numéro déjà utilisé dans la boutique (ou plus tôt dans la requête) ; INSUFFICIENT_STOCK : stock insuffisant ; ARTICLE_NOT_FOUND : pas un article de la boutique du terminal ; INVALID_SALE : la vente est mal formée (le message nomme le champ et la ligne)",
    }),
    vente_existante: VenteExistanteSchema.nullable().optional().meta({ description: 'DUPLICATE seulement' }),
    identique: z.boolean().optional().meta({
      description:
        'DUPLICATE seulement : true quand le serveur a déjà cette vente-ci (même terminal, même contenu, même date_vente si envoyée) : la caisse peut la marquer synchronisée',
    }),
  })
  .meta({ id: 'VenteErreur', description: 'Une vente refusée ; les autres ventes du lot ne sont pas touchées' });

export const SyncResponseSchema = z
  .object({
    success: z.boolean().meta({ description: 'true quand au moins une vente a été créée' }),
    message: z.string().meta({ examples: ['1 vente(s) synchronisée(s) avec succès'] }),
    boutique_id: BOUTIQUE_ID,
    boutique_nom: z.string(),
    terminal: z.string().meta({ description: 'Nom du terminal' }),
    statistiques: z
      .object({
        total_envoyees: z.int().meta({ description: 'Nombre de ventes dans la requête' }),
        reussies: z.int().meta({ description: 'Nombre de ventes créées' }),
        erreurs: z.int().meta({ description: 'Nombre de ventes refusées' }),
      })
      .meta({ id: 'SyncStatistiques' }),
    ventes_creees: z.array(VenteCreeeSchema),
    ventes_erreurs: z.array(VenteErreurSchema).nullable().meta({ description: "null quand aucune vente n'est refusée" }),
  })
  .meta({ id: 'SyncResponse', description: 'Réponse à un lot de ventes (forme du guide MAUI)' });

export const ArticleSchema = z
  .object({
    id: z.int().meta({ description: "Identifiant de l'article (article_id des lignes)" }),
    nom: ARTICLE_NOM,
    prix_vente: MoneyStringSchema.meta({ description: 'Prix par défaut des lignes sans prix_unitaire' }),
    quantite_stock: QUANTITE.meta({ description: 'Stock actuel, en unités' }),
  })
  .meta({ id: 'Article' });

export const ArticlesResponseSchema = z
  .object({
    success: SUCCESS,
    boutique_id: BOUTIQUE_ID,
    articles: z.array(ArticleSchema),
    source: z
      .enum(['serveur', 'cache'])
      .optional()
      .meta({ description: '(ajouté) relais seulement : cache quand le serveur est injoignable' }),
    cache_mis_a_jour: z
      .string()
      .nullable()
      .optional()
      .meta({ description: '(ajouté) relais seulement : date de la copie du catalogue (ISO 8601)' }),
  })
  .meta({ id: 'Articles', description: 'Le catalogue de la boutique du terminal' });

const HistoriqueLigneSchema = z
  .object({
    article_id: z.int(),
    article_nom: ARTICLE_NOM,
    quantite: QUANTITE,
    prix_unitaire: MoneyStringSchema,
    sous_total: MoneyStringSchema,
  })
  .meta({ id: 'HistoriqueLigne' });

export const HistoriqueRetourSchema = z
  .object({
    numero_retour: z.string(),
    date_retour: z.string().meta({ description: 'ISO 8601, en UTC' }),
    montant_total: MoneyStringSchema.meta({ description: 'Montant rendu' }),
    motif: z.string().nullable(),
    terminal: z.string().meta({ description: 'Nom du terminal qui a enregistré le retour' }),
    lignes: z.array(HistoriqueLigneSchema).meta({ description: 'Les articles rendus, aux prix de la vente' }),
    date_retour_caisse: z.string().optional().meta({
      description: "présent seulement quand l'horloge de la caisse avançait de plus de 10 minutes : la date qu'elle a envoyée (date_retour est alors l'heure de réception)",
    }),
  })
  .meta({ id: 'HistoriqueRetour', description: "(ajouté) Un retour d'articles de cette vente" });

export const HistoriqueVenteSchema = z
  .object({
    numero_facture: z.string(),
    date_vente: z.string().meta({ description: 'ISO 8601, en UTC' }),
    montant_total: MoneyStringSchema,
    mode_paiement: z.enum(MODES_PAIEMENT),
    paye: z.boolean(),
    terminal: z.string().meta({ description: 'Nom du terminal qui a envoyé la vente' }),
    date_vente_caisse: z.string().optional().meta({
      description:
        "(ajouté) présent seulement quand la date envoyée par la caisse était en avance de plus de 10 minutes sur l'horloge du serveur : la date de la caisse (ISO 8601, en UTC) ; date_vente est alors l'heure de réception",
    }),
    lignes: z.array(HistoriqueLigneSchema),
    retours: z
      .array(HistoriqueRetourSchema)
      .optional()
      .meta({ description: '(ajouté) présent seulement quand la vente a des retours : les 10 plus anciens, le plus ancien en premier' }),
    retours_omis: z
      .int()
      .optional()
      .meta({ description: '(ajouté) présent seulement quand la vente a plus de 10 retours : combien ne sont pas détaillés ici' }),
  })
  .meta({ id: 'HistoriqueVente' });

export const HistoriqueResponseSchema = z
  .object({
    success: SUCCESS,
    boutique_id: BOUTIQUE_ID,
    total: z.int().meta({ description: 'Nombre de ventes qui répondent aux filtres, toutes pages confondues' }),
    limit: z.int(),
    offset: z.int(),
    ventes: z.array(HistoriqueVenteSchema).meta({ description: 'Les plus récentes en premier' }),
  })
  .meta({ id: 'Historique', description: 'Une page des ventes de la boutique' });

const CHIFFRES_FIELDS = {
  nombre_ventes: z.int(),
  chiffre_affaires: MoneyStringSchema.meta({ description: 'Montant des ventes moins celui des retours (net)' }),
  nombre_retours: z.int().meta({ description: '(ajouté) Nombre de retours' }),
  montant_retours: MoneyStringSchema.meta({ description: '(ajouté) Montant rendu, déjà déduit de chiffre_affaires' }),
};

const ChiffresSchema = z
  .object({
    ...CHIFFRES_FIELDS,
    par_mode_paiement: z
      .record(z.string(), z.object(CHIFFRES_FIELDS).meta({ id: 'ChiffresMode' }))
      .meta({ description: 'Par mode de paiement (CASH, MOBILE_MONEY, CARTE)' }),
  })
  .meta({ id: 'Chiffres' });

export const StatistiquesResponseSchema = z
  .object({
    success: SUCCESS,
    boutique_id: BOUTIQUE_ID,
    boutique_nom: z.string(),
    devise: z.string().meta({ examples: ['CDF'] }),
    statistiques: z
      .object({
        aujourd_hui: ChiffresSchema.extend({ date: z.string().meta({ description: 'Le jour, AAAA-MM-JJ' }) }).meta({
          id: 'ChiffresDuJour',
        }),
        total: ChiffresSchema,
        articles_stock_bas: z
          .array(z.object({ id: z.int(), nom: ARTICLE_NOM, quantite_stock: QUANTITE }).meta({ id: 'ArticleStockBas' }))
          .meta({ description: 'Articles dont le stock est au plus seuil_stock_bas' }),
        seuil_stock_bas: z.int(),
        articles_stock_negatif: z
          .array(z.object({ id: z.int(), nom: ARTICLE_NOM, quantite_stock: QUANTITE }).meta({ id: 'ArticleStockNegatif' }))
          .meta({ description: "(ajouté) Articles dont le stock est sous zéro (ventes faites hors ligne) : une livraison l'y ramène" }),
      })
      .meta({ id: 'StatistiquesDetail' }),
  })
  .meta({ id: 'Statistiques', description: 'Chiffres de la boutique du terminal' });

export const HealthResponseSchema = z
  .object({ status: z.literal('ok') })
  .meta({ id: 'Sante', description: 'La base de données répond' });

export type SyncResponse = z.infer<typeof SyncResponseSchema>;
export type VenteCreee = z.infer<typeof VenteCreeeSchema>;
export type Avertissement = z.infer<typeof AvertissementSchema>;
export type VenteErreur = z.infer<typeof VenteErreurSchema>;
export type ArticlesResponse = z.infer<typeof ArticlesResponseSchema>;
export type Article = z.infer<typeof ArticleSchema>;
export type HistoriqueResponse = z.infer<typeof HistoriqueResponseSchema>;
export type HistoriqueVente = z.infer<typeof HistoriqueVenteSchema>;
export type HistoriqueRetour = z.infer<typeof HistoriqueRetourSchema>;
export type StatistiquesResponse = z.infer<typeof StatistiquesResponseSchema>;
