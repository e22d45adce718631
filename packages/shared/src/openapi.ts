import { z } from 'zod';
import { REQUEST_ERROR_STATUS, type RequestErrorCode } from './error-codes.js';
import { HistoriqueQuerySchema } from './historique-query.js';
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
  ERROR_BODY_SCHEMAS,
  HealthResponseSchema,
  HistoriqueResponseSchema,
  REQUEST_ERROR_STATUSES,
  requestErrorCodesOf,
  StatistiquesResponseSchema,
  SyncResponseSchema,
} from './response-schemas.js';
import { SyncRequestSchema } from './vente-schema.js';
import { MAX_RETOURS_PER_REQUEST, RETOURS_PATH, RetoursRequestSchema } from './retour-schema.js';
import { RetoursResponseSchema } from './retour-response.js';
import { RELAY_ID_HEADER, RELAY_TERMINALS_PATH, RELAY_TERMINALS_VERSION_HEADER, SIGNATURE_HEADER, SIGNATURE_WINDOW_SECONDS } from './signature.js';
import { RelaisTerminauxResponseSchema } from './relay-terminals-schema.js';
import { RELAY_REPORT_INTERVAL_MS, RELAY_REPORT_PATH, RelayReportResponseSchema, RelayReportSchema } from './relay-report.js';
import { MAX_RECONCILIATION_DETAIL, RECONCILIATION_PATH, ReconciliationQuerySchema, ReconciliationResponseSchema } from './reconciliation.js';

type JsonSchema = Record<string, unknown>;

const SCHEMAS_PREFIX = '#/components/schemas/';
const SECURITY_SCHEME = 'DeviceSerial';
const SIGNATURE_SCHEME = 'RequestSignature';
const RELAY_SCHEME = 'RelayId';

/** The guide's request ("Format de Requête"), as the sync operation's example. */
export const GUIDE_SYNC_EXAMPLE = [
  {
    numero_facture: 'VENTE-001',
    mode_paiement: 'CASH',
    paye: true,
    lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }],
  },
  {
    numero_facture: 'VENTE-002',
    mode_paiement: 'MOBILE_MONEY',
    paye: true,
    lignes: [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }],
  },
];

/** The answer to the guide's request on the demo data. */
const GUIDE_SYNC_ANSWER = {
  success: true,
  message: '2 vente(s) synchronisée(s) avec succès',
  boutique_id: 2,
  boutique_nom: 'Ma Boutique',
  terminal: 'Terminal messie vanza',
  statistiques: { total_envoyees: 2, reussies: 2, erreurs: 0 },
  ventes_creees: [
    {
      numero_facture: 'VENTE-001',
      montant_total: '40000.00',
      lignes: [{ article_nom: 'Samsung S24', quantite: 1, prix_unitaire: '40000.00', sous_total: '40000.00' }],
    },
    {
      numero_facture: 'VENTE-002',
      montant_total: '50000.00',
      lignes: [{ article_nom: 'Écouteurs Bluetooth', quantite: 2, prix_unitaire: '25000.00', sous_total: '50000.00' }],
    },
  ],
  ventes_erreurs: null,
};

/** The guide's request sent a second time: nothing created, each sale a DUPLICATE the server already holds. */
const GUIDE_RESEND_ANSWER = {
  ...GUIDE_SYNC_ANSWER,
  success: false,
  message: '0 vente(s) synchronisée(s) avec succès',
  statistiques: { total_envoyees: 2, reussies: 0, erreurs: 2 },
  ventes_creees: [],
  ventes_erreurs: GUIDE_SYNC_ANSWER.ventes_creees.map((vente, i) => ({
    index: i + 1,
    numero_facture: vente.numero_facture,
    erreur: `Vente ${vente.numero_facture} existe déjà, ignorée`,
    code: 'DUPLICATE',
    vente_existante: { numero_facture: vente.numero_facture, montant_total: vente.montant_total, date_vente: '2025-10-29T01:45:00.000Z' },
    identique: true,
  })),
};

/** A return of one of the guide's earphones, and the answers to it (sent once, then again). */
const RETOUR_EXAMPLE = [{ numero_retour: 'RET-001', numero_facture: 'VENTE-002', lignes: [{ article_id: 7, quantite: 1 }], motif: 'ne marche pas' }];
const RETOUR_ANSWER = {
  success: true,
  message: '1 retour(s) enregistré(s) avec succès',
  boutique_id: 2,
  boutique_nom: 'Ma Boutique',
  terminal: 'Terminal messie vanza',
  statistiques: { total_envoyees: 1, reussies: 1, erreurs: 0 },
  retours_crees: [
    {
      numero_retour: 'RET-001',
      numero_facture: 'VENTE-002',
      montant_total: '25000.00',
      lignes: [{ article_nom: 'Écouteurs Bluetooth', quantite: 1, prix_unitaire: '25000.00', sous_total: '25000.00' }],
    },
  ],
  retours_erreurs: null,
};
const RETOUR_RESEND_ANSWER = {
  ...RETOUR_ANSWER,
  success: false,
  message: '0 retour(s) enregistré(s) avec succès',
  statistiques: { total_envoyees: 1, reussies: 0, erreurs: 1 },
  retours_crees: [],
  retours_erreurs: [
    {
      index: 1,
      numero_retour: 'RET-001',
      numero_facture: 'VENTE-002',
      erreur: 'Retour RET-001 existe déjà, ignoré',
      code: 'DUPLICATE',
      retour_existant: { numero_retour: 'RET-001', numero_facture: 'VENTE-002', montant_total: '25000.00', date_retour: '2025-10-29T17:10:00.000Z' },
      identique: true,
    },
  ],
};

/** What each request-level code means, for the responses' descriptions. */
const REQUEST_ERROR_MEANING: Partial<Record<RequestErrorCode, string>> = {
  MISSING_SERIAL: `pas de header ${SERIAL_HEADER}, vide, ou envoyé plusieurs fois`,
  BAD_REQUEST: 'requête HTTP mal formée',
  INVALID_JSON: "le corps n'est pas du JSON",
  INVALID_FORMAT: "du JSON, mais pas un tableau de ventes",
  INVALID_QUERY: "limit, offset ou une date de l'historique invalide ; jour, detail ou apres du rapprochement invalide ou répété",
  TERMINAL_NOT_FOUND: 'numéro de série inconnu, ou terminal désactivé',
  NOT_FOUND: 'route inconnue',
  PAYLOAD_TOO_LARGE: `corps de plus de ${MAX_BODY_BYTES} octets (5 Mio)`,
  BATCH_TOO_LARGE: `plus de ${MAX_VENTES_PER_REQUEST} ventes`,
  UNSUPPORTED_MEDIA_TYPE: 'type de contenu non pris en charge',
  FORBIDDEN: 'accès refusé',
  METHOD_NOT_ALLOWED: 'ce chemin existe mais pas avec cette méthode (ex. POST /health) ; le header Allow donne les méthodes acceptées',
  REQUEST_TIMEOUT: 'requête trop lente à arriver (en-têtes ou corps)',
  URI_TOO_LONG: 'adresse trop longue',
  HEADERS_TOO_LARGE: 'en-têtes trop volumineux',
  INTERNAL_ERROR: 'erreur inattendue du serveur (rien de la requête n’est écrit)',
  SERVICE_UNAVAILABLE: 'base de données momentanément occupée : réessayer après Retry-After',
  UPSTREAM_UNAVAILABLE: 'relais seulement : le serveur central est injoignable',
  OVERLOADED: 'serveur surchargé (mémoire, boucle d’événements) : réessayer après Retry-After',
  DATABASE_FAILING: '/health : la base ne répond pas ou ne peut plus écrire',
  STORAGE_ERROR: 'le disque du serveur a refusé une lecture ou une écriture (erreur d’entrée-sortie) : rien de la requête n’est écrit ; réessayer après Retry-After',
  STORAGE_FULL: 'disque plein : rien de la requête n’est écrit',
  EXPECTATION_FAILED: 'header Expect autre que 100-continue',
  SIGNATURE_REQUIRED: `terminal muni d’un secret (ou serveur lancé avec --require-signatures) : header ${SIGNATURE_HEADER} absent`,
  INVALID_SIGNATURE: `header ${SIGNATURE_HEADER} mal formé, ou HMAC qui ne correspond pas au secret`,
  SIGNATURE_EXPIRED: `t à plus de ${SIGNATURE_WINDOW_SECONDS} s de l’heure du serveur`,
  SIGNATURE_REPLAYED: `la même signature (v1) a déjà été acceptée dans la fenêtre de ${SIGNATURE_WINDOW_SECONDS} s`,
  RELAY_NOT_FOUND: `${RELAY_ID_HEADER} inconnu, ou relais désactivé`,
  RELAY_FORBIDDEN: `relais enregistré : le terminal de ${SERIAL_HEADER} n’est pas dans une de ses boutiques`,
};

/** zod's safe-integer bounds on every `z.int()` say nothing to a reader or a client generator. */
function dropSafeIntegerBounds(schema: JsonSchema): void {
  if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum;
  if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum;
}

/** Every schema reachable from `roots` that carries an `id`, by id. */
function schemasWithIds(roots: readonly z.core.$ZodType[], io: 'input' | 'output'): Map<string, z.core.$ZodType> {
  const found = new Map<string, z.core.$ZodType>();
  for (const root of roots) {
    z.toJSONSchema(root, {
      io,
      override: ({ zodSchema }) => {
        const id = z.globalRegistry.get(zodSchema)?.id;
        if (id) found.set(id, zodSchema);
      },
    });
  }
  return found;
}

/**
 * JSON Schemas of `schemas` for `components/schemas`, each nested schema with an id as a
 * `$ref` to its own component: zod's registry conversion, pointed at the components.
 */
function componentSchemas(schemas: Map<string, z.core.$ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of schemas) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, {
    io,
    target: 'draft-2020-12',
    uri: (id) => `${SCHEMAS_PREFIX}${id}`,
    override: ({ jsonSchema }) => dropSafeIntegerBounds(jsonSchema as JsonSchema),
  }).schemas;
  const components: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(converted)) {
    // A `__shared` entry would hold schemas no component owns: every id'd schema must be listed.
    if (id === '__shared') throw new Error('OpenAPI : un schéma sans composant est référencé');
    // `$id` would change the base URI of every `$ref` inside; the document names the dialect once.
    const { $schema: _dialect, $id: _uri, ...rest } = schema as JsonSchema;
    components[id] = rest;
  }
  return components;
}

/** All components: the request side in its input form, the answers in their output form. */
function buildComponentSchemas(requestRoots: z.core.$ZodType[], responseRoots: z.core.$ZodType[]): Record<string, JsonSchema> {
  const requests = schemasWithIds(requestRoots, 'input');
  const responses = schemasWithIds(responseRoots, 'output');
  for (const id of requests.keys()) {
    if (responses.has(id)) throw new Error(`OpenAPI : le schéma ${id} sert à la fois en entrée et en sortie`);
  }
  return { ...componentSchemas(requests, 'input'), ...componentSchemas(responses, 'output') };
}

const ref = (schema: z.ZodType): { $ref: string } => {
  const id = z.globalRegistry.get(schema)?.id;
  if (!id) throw new Error('OpenAPI : schéma sans id');
  return { $ref: `${SCHEMAS_PREFIX}${id}` };
};

const jsonContent = (schema: z.ZodType, extra: JsonSchema = {}) => ({
  'application/json': { schema: ref(schema), ...extra },
});

/** One reusable response per status of the code → status table. */
function errorResponses(): Record<string, JsonSchema> {
  const responses: Record<string, JsonSchema> = {};
  for (const status of REQUEST_ERROR_STATUSES) {
    const codes = requestErrorCodesOf(status)
      .map((code) => `\`${code}\`${REQUEST_ERROR_MEANING[code] ? ` : ${REQUEST_ERROR_MEANING[code]}` : ''}`)
      .join(' ; ');
    const schema = ERROR_BODY_SCHEMAS.get(status);
    if (!schema) throw new Error(`OpenAPI : pas de corps d'erreur pour ${status}`);
    responses[`Erreur${status}`] = {
      description: codes,
      ...(status === REQUEST_ERROR_STATUS.SERVICE_UNAVAILABLE || status === REQUEST_ERROR_STATUS.STORAGE_FULL
        ? {
            headers: {
              'Retry-After': { description: 'Secondes à attendre avant de réessayer', schema: { type: 'integer', minimum: 0 } },
            },
          }
        : status === REQUEST_ERROR_STATUS.METHOD_NOT_ALLOWED
          ? {
              headers: {
                Allow: { description: 'Les méthodes que ce chemin accepte (ex. « GET, HEAD »)', schema: { type: 'string' } },
              },
            }
          : {}),
      content: jsonContent(schema),
    };
  }
  return responses;
}

const errorRefs = (statuses: readonly number[]) =>
  Object.fromEntries(statuses.map((status) => [String(status), { $ref: `#/components/responses/Erreur${status}` }]));

/** The history's query parameters, from the very schema the route validates them with. */
function historiqueParameters(): JsonSchema[] {
  const schema = z.toJSONSchema(HistoriqueQuerySchema, {
    io: 'input',
    target: 'draft-2020-12',
    override: ({ jsonSchema }) => dropSafeIntegerBounds(jsonSchema as JsonSchema),
  }) as JsonSchema & { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(schema.properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: 'query',
      required: schema.required?.includes(name) ?? false,
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

/** The reconciliation's query parameters, from the schema the route validates them with. */
function reconciliationParameters(): JsonSchema[] {
  const schema = z.toJSONSchema(ReconciliationQuerySchema, { io: 'input', target: 'draft-2020-12' }) as JsonSchema & {
    properties: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(schema.properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: 'query',
      required: schema.required?.includes(name) ?? false,
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function buildOpenApiDocument(title = 'ventesync'): Record<string, unknown> {
  // A till without a secret sends its serial alone; with one, its serial and a signature (§6).
  const terminal = { security: [{ [SECURITY_SCHEME]: [] }, { [SECURITY_SCHEME]: [], [SIGNATURE_SCHEME]: [] }] };
  // Any request can meet a framework-level refusal (size, media type) or an overloaded server.
  const apiErrors = errorRefs(REQUEST_ERROR_STATUSES);
  return {
    openapi: '3.1.0',
    info: {
      title,
      version: '2.0.0',
      description:
        'Synchronisation des ventes des caisses MAUI, compatible avec le guide « Synchronisation de Ventes MAUI ». ' +
        `Chaque requête /api/v2/simple/… porte le header ${SERIAL_HEADER} : le numéro de série du terminal désigne sa boutique. ` +
        'Toute erreur de requête est un JSON {error, code} ; code est stable, error est un message en français. ' +
        'Un chemin documenté demandé avec une autre méthode (ex. POST /health) reçoit 405 METHOD_NOT_ALLOWED avec le header Allow ; ' +
        'un chemin inconnu, 404 NOT_FOUND ; une requête trop lente à arriver, 408 REQUEST_TIMEOUT ; un header Expect autre que ' +
        '100-continue, 417 EXPECTATION_FAILED.',
    },
    servers: [{ url: '/', description: 'Ce serveur' }],
    tags: [
      { name: 'ventes', description: 'Envoi et consultation des ventes' },
      { name: 'catalogue', description: 'Articles et chiffres de la boutique' },
      { name: 'service', description: 'État du serveur' },
      { name: 'relais', description: 'Réservé aux relais enregistrés' },
    ],
    security: [{ [SECURITY_SCHEME]: [] }, { [SECURITY_SCHEME]: [], [SIGNATURE_SCHEME]: [] }],
    paths: {
      [SYNC_PATH]: {
        post: {
          operationId: 'syncVentes',
          tags: ['ventes'],
          summary: 'Synchroniser un lot de ventes',
          description:
            `Au plus ${MAX_VENTES_PER_REQUEST} ventes et ${MAX_BODY_BYTES} octets (5 Mio) par requête. ` +
            'Chaque vente est écrite entière ou pas du tout (vente, lignes, stock, mouvements) ; une vente refusée ne bloque pas les autres ' +
            'et revient dans ventes_erreurs avec son code.',
          ...terminal,
          requestBody: {
            required: true,
            description: 'Un tableau de ventes (les champs inconnus sont ignorés)',
            content: {
              'application/json': {
                schema: ref(SyncRequestSchema),
                examples: { guide: { summary: 'Exemple du guide : deux ventes', value: GUIDE_SYNC_EXAMPLE } },
              },
            },
          },
          responses: {
            '201': {
              description: 'Au moins une vente créée (success: true) ; les ventes refusées sont dans ventes_erreurs',
              content: jsonContent(SyncResponseSchema, {
                examples: { guide: { summary: "Réponse à l'exemple du guide", value: GUIDE_SYNC_ANSWER } },
              }),
            },
            '200': {
              description: 'Aucune vente créée (success: false) : toutes refusées ou doublons, ou tableau vide',
              content: jsonContent(SyncResponseSchema, {
                examples: { renvoi: { summary: 'Le même lot renvoyé : des doublons identiques', value: GUIDE_RESEND_ANSWER } },
              }),
            },
            ...apiErrors,
          },
        },
      },
      [RETOURS_PATH]: {
        post: {
          operationId: 'syncRetours',
          tags: ['ventes'],
          summary: "(ajouté) Enregistrer un lot de retours d'articles",
          description:
            `Au plus ${MAX_RETOURS_PER_REQUEST} retours et ${MAX_BODY_BYTES} octets (5 Mio) par requête, mêmes headers et signatures que les ventes. ` +
            'Un retour vise une vente de la boutique du terminal (numero_facture) et ne rend jamais plus d’unités d’un article que la vente n’en a vendu, ' +
            'tous retours de cette vente confondus. Chaque retour est écrit entier ou pas du tout (retour, lignes, stock remis, mouvements RETOUR) ; ' +
            'un retour refusé ne bloque pas les autres et revient dans retours_erreurs avec son code. Renvoyer un retour déjà enregistré (même numero_retour, ' +
            'même contenu) donne DUPLICATE avec identique: true, sans rien écrire.',
          ...terminal,
          requestBody: {
            required: true,
            description: 'Un tableau de retours (les champs inconnus sont ignorés)',
            content: {
              'application/json': {
                schema: ref(RetoursRequestSchema),
                examples: {
                  retour: { summary: 'Un écouteur rendu sur la vente VENTE-002', value: RETOUR_EXAMPLE },
                },
              },
            },
          },
          responses: {
            '201': {
              description: 'Au moins un retour enregistré (success: true) ; les retours refusés sont dans retours_erreurs',
              content: jsonContent(RetoursResponseSchema, { examples: { retour: { summary: "Réponse à l'exemple", value: RETOUR_ANSWER } } }),
            },
            '200': {
              description: 'Aucun retour enregistré (success: false) : tous refusés ou doublons, ou tableau vide',
              content: jsonContent(RetoursResponseSchema, {
                examples: { renvoi: { summary: 'Le même retour renvoyé : un doublon identique', value: RETOUR_RESEND_ANSWER } },
              }),
            },
            ...apiErrors,
          },
        },
      },
      [ARTICLES_PATH]: {
        get: {
          operationId: 'getArticles',
          tags: ['catalogue'],
          summary: 'Catalogue de la boutique du terminal',
          ...terminal,
          responses: { '200': { description: 'Les articles', content: jsonContent(ArticlesResponseSchema) }, ...apiErrors },
        },
      },
      [HISTORIQUE_PATH]: {
        get: {
          operationId: 'getHistorique',
          tags: ['ventes'],
          summary: 'Historique des ventes de la boutique, les plus récentes en premier',
          ...terminal,
          parameters: historiqueParameters(),
          responses: { '200': { description: 'Une page de ventes', content: jsonContent(HistoriqueResponseSchema) }, ...apiErrors },
        },
      },
      [STATISTIQUES_PATH]: {
        get: {
          operationId: 'getStatistiques',
          tags: ['catalogue'],
          summary: 'Chiffres du jour et globaux, par mode de paiement, et articles en stock bas',
          ...terminal,
          responses: {
            '200': { description: 'Les chiffres', content: jsonContent(StatistiquesResponseSchema) },
            ...apiErrors,
          },
        },
      },
      [RECONCILIATION_PATH]: {
        get: {
          operationId: 'getRapprochement',
          tags: ['ventes'],
          summary: '(ajouté) Les ventes du terminal pour un jour local de sa boutique : nombre, montant, empreinte',
          description:
            'Pour comparer les comptes du relais (ou de la caisse) avec ceux du serveur (CONTRACT §7). Le jour est celui du fuseau de la boutique. ' +
            'Le montant de chaque vente est net de ses retours. empreinte = hex SHA-256 des lignes "{numero_facture}:{montant en centimes}\\n" ' +
            'triées par numero_facture dans l’ordre des octets UTF-8 ; un jour sans vente hache la chaîne vide. ' +
            `Avec detail=1, ventes liste au plus ${MAX_RECONCILIATION_DETAIL} ventes dans ce même ordre ; suite, quand elle n’est pas null, ` +
            'est à passer en apres pour la page suivante (nombre_ventes, montant_total et empreinte couvrent toujours le jour entier).',
          ...terminal,
          parameters: reconciliationParameters(),
          responses: { '200': { description: 'Le jour du terminal', content: jsonContent(ReconciliationResponseSchema) }, ...apiErrors },
        },
      },
      [RELAY_TERMINALS_PATH]: {
        get: {
          operationId: 'getRelaisTerminaux',
          tags: ['relais'],
          summary: 'Relais enregistrés seulement : les terminaux de leurs boutiques et leurs secrets',
          description:
            `Sans ${SERIAL_HEADER} : signée par le relais (${RELAY_ID_HEADER} et ${SIGNATURE_HEADER} faite avec son secret), mêmes règles et codes. ` +
            `Toute réponse à une requête signée par un relais porte le header ${RELAY_TERMINALS_VERSION_HEADER} : ` +
            'quand il diffère de la version que le relais détient, il redemande la liste (un secret émis ou changé).',
          security: [{ [RELAY_SCHEME]: [], [SIGNATURE_SCHEME]: [] }],
          responses: {
            '200': { description: 'La liste', content: jsonContent(RelaisTerminauxResponseSchema) },
            ...apiErrors,
          },
        },
      },
      [RELAY_REPORT_PATH]: {
        post: {
          operationId: 'postRelaisEtat',
          tags: ['relais'],
          summary: 'Relais enregistrés seulement : leur état, pour le voir depuis le centre',
          description:
            `Envoyé toutes les ${RELAY_REPORT_INTERVAL_MS / 1000} s par chaque relais enregistré, signé comme ${RELAY_TERMINALS_PATH} ` +
            `(${RELAY_ID_HEADER} et ${SIGNATURE_HEADER}, sans ${SERIAL_HEADER}). Le serveur garde le dernier rapport de chaque relais ` +
            '(ventesync-server relais list, /metrics). Un champ inconnu, un nombre négatif, fractionnaire ou démesuré, une date à plus ' +
            'd’un jour dans le futur : 400 INVALID_FORMAT, rien n’est enregistré ; un relais désactivé : 401 RELAY_NOT_FOUND.',
          security: [{ [RELAY_SCHEME]: [], [SIGNATURE_SCHEME]: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: ref(RelayReportSchema) } } },
          responses: {
            '200': { description: 'Rapport enregistré', content: jsonContent(RelayReportResponseSchema) },
            ...apiErrors,
          },
        },
      },
      '/health': {
        get: {
          operationId: 'getHealth',
          tags: ['service'],
          summary: 'La base de données répond',
          security: [],
          responses: {
            '200': { description: 'ok', content: jsonContent(HealthResponseSchema) },
            // What any request can meet before its route (malformed, too slow, too large, other
            // method, overloaded) and the failing database; never 404 (the path exists), 401 nor 507.
            ...errorRefs(
              REQUEST_ERROR_STATUSES.filter(
                (status) =>
                  status !== REQUEST_ERROR_STATUS.NOT_FOUND &&
                  status !== REQUEST_ERROR_STATUS.STORAGE_FULL &&
                  // /health asks no signature (§6 covers /api/ only).
                  status !== REQUEST_ERROR_STATUS.SIGNATURE_REQUIRED,
              ),
            ),
          },
        },
      },
    },
    components: {
      schemas: buildComponentSchemas(
        [SyncRequestSchema, RetoursRequestSchema, RelayReportSchema],
        [
          SyncResponseSchema,
          RetoursResponseSchema,
          ArticlesResponseSchema,
          HistoriqueResponseSchema,
          StatistiquesResponseSchema,
          ReconciliationResponseSchema,
          HealthResponseSchema,
          RelaisTerminauxResponseSchema,
          RelayReportResponseSchema,
          ...ERROR_BODY_SCHEMAS.values(),
        ],
      ),
      responses: errorResponses(),
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: 'apiKey',
          in: 'header',
          name: SERIAL_HEADER,
          description: 'Numéro de série du terminal MAUI (ex. 0a1badae951f8473) ; il désigne la boutique',
        },
        [RELAY_SCHEME]: {
          type: 'apiKey',
          in: 'header',
          name: RELAY_ID_HEADER,
          description: 'Identifiant du relais enregistré (ventesync-server relais add) ; toujours avec sa signature',
        },
        [SIGNATURE_SCHEME]: {
          type: 'apiKey',
          in: 'header',
          name: SIGNATURE_HEADER,
          description:
            `t=<secondes Unix>,v1=<hex> avec v1 = hex(HMAC-SHA256(clé = le secret du terminal en UTF-8, message = "<t>.<MÉTHODE>.<chemin et requête tels qu'envoyés>.<hex SHA-256 des octets du corps>")) ; ` +
            `un corps vide hache la chaîne vide ; t à ${SIGNATURE_WINDOW_SECONDS} s au plus de l’heure du serveur ; une signature ne sert qu’une fois. ` +
            `Exigé des terminaux munis d’un secret (ventesync-server terminal secret SERIAL), et de tous avec --require-signatures. ` +
            `Un relais enregistré envoie aussi ${RELAY_ID_HEADER} et signe avec son propre secret.`,
        },
      },
    },
  };
}
