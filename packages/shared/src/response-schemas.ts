import { z } from 'zod';
import { REQUEST_ERROR_STATUS, SALE_ERROR_CODES } from './error-codes.js';
import { MODES_PAIEMENT } from './vente-schema.js';

/** Money on the wire: exact decimal text with two decimals, e.g. "40000.00". */
export const MoneyStringSchema = z.string().regex(/^-?\d+\.\d{2}$/).meta({ example: '40000.00' });

export const ErrorBodySchema = z
  .object({
    error: z.string().meta({ description: 'Message en français, pour les personnes' }),
    code: z.enum(Object.keys(REQUEST_ERROR_STATUS) as [keyof typeof REQUEST_ERROR_STATUS]),
    header_required: z.string().optional(),
    limit: z.number().optional(),
  })
  .meta({ id: 'ErreurRequete' });

export const VENTE_STATUTS = ['EN_ATTENTE', 'SYNCHRONISEE', 'REJETEE'] as const;
export type VenteStatut = (typeof VENTE_STATUTS)[number];

export const LigneCreeeSchema = z.object({
  article_nom: z.string(),
  quantite: z.int(),
  prix_unitaire: MoneyStringSchema,
  sous_total: MoneyStringSchema,
});

export const VenteCreeeSchema = z
  .object({
    numero_facture: z.string(),
    montant_total: MoneyStringSchema,
    lignes: z.array(LigneCreeeSchema),
    statut: z.enum(VENTE_STATUTS).optional().meta({ description: '(ajouté) relais seulement : EN_ATTENTE' }),
  })
  .meta({ id: 'VenteCreee' });

export const VenteExistanteSchema = z.object({
  numero_facture: z.string(),
  montant_total: MoneyStringSchema,
  date_vente: z.string(),
});

export const VenteErreurSchema = z
  .object({
    index: z.int().meta({ description: 'Position de la vente dans la requête, à partir de 1' }),
    numero_facture: z.string().nullable(),
    erreur: z.string(),
    code: z.enum(SALE_ERROR_CODES),
    vente_existante: VenteExistanteSchema.nullable().optional(),
    identique: z.boolean().optional(),
  })
  .meta({ id: 'VenteErreur' });

export const SyncResponseSchema = z
  .object({
    success: z.boolean(),
    message: z.string(),
    boutique_id: z.int(),
    boutique_nom: z.string(),
    terminal: z.string(),
    statistiques: z.object({ total_envoyees: z.int(), reussies: z.int(), erreurs: z.int() }),
    ventes_creees: z.array(VenteCreeeSchema),
    ventes_erreurs: z.array(VenteErreurSchema).nullable(),
  })
  .meta({ id: 'SyncResponse' });

export const ArticleSchema = z.object({
  id: z.int(),
  nom: z.string(),
  prix_vente: MoneyStringSchema,
  quantite_stock: z.int(),
});

export const ArticlesResponseSchema = z
  .object({
    success: z.boolean(),
    boutique_id: z.int(),
    articles: z.array(ArticleSchema),
    source: z.enum(['serveur', 'cache']).optional().meta({ description: '(ajouté) relais : catalogue en cache' }),
    cache_mis_a_jour: z.string().nullable().optional(),
  })
  .meta({ id: 'Articles' });

export const HistoriqueQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  date_debut: z.string().optional(),
  date_fin: z.string().optional(),
});

export const HistoriqueVenteSchema = z.object({
  numero_facture: z.string(),
  date_vente: z.string(),
  montant_total: MoneyStringSchema,
  mode_paiement: z.enum(MODES_PAIEMENT),
  paye: z.boolean(),
  terminal: z.string(),
  lignes: z.array(
    z.object({
      article_id: z.int(),
      article_nom: z.string(),
      quantite: z.int(),
      prix_unitaire: MoneyStringSchema,
      sous_total: MoneyStringSchema,
    }),
  ),
});

export const HistoriqueResponseSchema = z
  .object({
    success: z.boolean(),
    boutique_id: z.int(),
    total: z.int(),
    limit: z.int(),
    offset: z.int(),
    ventes: z.array(HistoriqueVenteSchema),
  })
  .meta({ id: 'Historique' });

const ChiffresSchema = z.object({
  nombre_ventes: z.int(),
  chiffre_affaires: MoneyStringSchema,
  par_mode_paiement: z.record(z.string(), z.object({ nombre_ventes: z.int(), chiffre_affaires: MoneyStringSchema })),
});

export const StatistiquesResponseSchema = z
  .object({
    success: z.boolean(),
    boutique_id: z.int(),
    boutique_nom: z.string(),
    devise: z.string(),
    statistiques: z.object({
      aujourd_hui: ChiffresSchema.extend({ date: z.string() }),
      total: ChiffresSchema,
      articles_stock_bas: z.array(z.object({ id: z.int(), nom: z.string(), quantite_stock: z.int() })),
      seuil_stock_bas: z.int(),
    }),
  })
  .meta({ id: 'Statistiques' });

export const HealthResponseSchema = z.object({ status: z.literal('ok') });

export type SyncResponse = z.infer<typeof SyncResponseSchema>;
export type VenteCreee = z.infer<typeof VenteCreeeSchema>;
export type VenteErreur = z.infer<typeof VenteErreurSchema>;
export type ArticlesResponse = z.infer<typeof ArticlesResponseSchema>;
export type Article = z.infer<typeof ArticleSchema>;
export type HistoriqueResponse = z.infer<typeof HistoriqueResponseSchema>;
export type HistoriqueVente = z.infer<typeof HistoriqueVenteSchema>;
export type StatistiquesResponse = z.infer<typeof StatistiquesResponseSchema>;
