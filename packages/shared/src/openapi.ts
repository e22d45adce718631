import { z } from 'zod';
import {
  ARTICLES_PATH,
  HISTORIQUE_PATH,
  MAX_BODY_BYTES,
  MAX_VENTES_PER_REQUEST,
  SERIAL_HEADER,
  STATISTIQUES_PATH,
  SYNC_PATH,
} from './limits.js';
import {
  ArticlesResponseSchema,
  ErrorBodySchema,
  HealthResponseSchema,
  HistoriqueResponseSchema,
  StatistiquesResponseSchema,
  SyncResponseSchema,
} from './response-schemas.js';
import { VenteInputSchema } from './vente-schema.js';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
  return rest;
}

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema: jsonSchema(schema) } },
});

const serialHeader = {
  name: SERIAL_HEADER,
  in: 'header',
  required: true,
  description: 'Numéro de série du terminal MAUI ; il désigne la boutique',
  schema: { type: 'string' },
  example: '0a1badae951f8473',
};

const requestErrors = {
  '400': json(ErrorBodySchema, 'MISSING_SERIAL, INVALID_JSON, INVALID_FORMAT ou INVALID_QUERY'),
  '404': json(ErrorBodySchema, 'TERMINAL_NOT_FOUND : terminal inconnu ou inactif'),
};

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function buildOpenApiDocument(title = 'ventesync'): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title,
      version: '2.0.0',
      description:
        'Synchronisation des ventes des caisses MAUI. Compatible avec le guide « Synchronisation de Ventes MAUI ».',
    },
    paths: {
      [SYNC_PATH]: {
        post: {
          summary: 'Synchroniser un lot de ventes',
          description: `Au plus ${MAX_VENTES_PER_REQUEST} ventes et ${MAX_BODY_BYTES} octets par requête. Chaque vente est écrite entière ou pas du tout.`,
          parameters: [serialHeader],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'array', items: jsonSchema(VenteInputSchema, 'input') } } },
          },
          responses: {
            '201': json(SyncResponseSchema, 'Au moins une vente créée'),
            '200': json(SyncResponseSchema, 'Aucune vente créée (success: false)'),
            ...requestErrors,
            '413': json(ErrorBodySchema, 'BATCH_TOO_LARGE ou PAYLOAD_TOO_LARGE'),
          },
        },
      },
      [ARTICLES_PATH]: {
        get: {
          summary: 'Catalogue de la boutique du terminal',
          parameters: [serialHeader],
          responses: { '200': json(ArticlesResponseSchema, 'Articles'), ...requestErrors },
        },
      },
      [HISTORIQUE_PATH]: {
        get: {
          summary: 'Historique des ventes de la boutique, les plus récentes en premier',
          parameters: [
            serialHeader,
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
            { name: 'date_debut', in: 'query', schema: { type: 'string' }, description: 'AAAA-MM-JJ ou ISO 8601' },
            { name: 'date_fin', in: 'query', schema: { type: 'string' }, description: 'AAAA-MM-JJ (inclus) ou ISO 8601' },
          ],
          responses: { '200': json(HistoriqueResponseSchema, 'Ventes'), ...requestErrors },
        },
      },
      [STATISTIQUES_PATH]: {
        get: {
          summary: "Chiffres du jour et globaux, par mode de paiement, et articles en stock bas",
          parameters: [serialHeader],
          responses: { '200': json(StatistiquesResponseSchema, 'Statistiques'), ...requestErrors },
        },
      },
      '/health': {
        get: { summary: 'La base répond', responses: { '200': json(HealthResponseSchema, 'ok') } },
      },
    },
  };
}
