import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REQUEST_ERROR_STATUS, type RequestErrorCode, SALE_ERROR_CODES } from '../src/error-codes.js';
import { HistoriqueQuerySchema } from '../src/historique-query.js';
import { MAX_VENTES_PER_REQUEST, SERIAL_HEADER, SYNC_PATH } from '../src/limits.js';
import { buildOpenApiDocument, GUIDE_SYNC_EXAMPLE } from '../src/openapi.js';
import { MAX_RETOURS_PER_REQUEST, RETOURS_PATH } from '../src/retour-schema.js';
import { RELAY_TERMINALS_PATH } from '../src/signature.js';

type Json = Record<string, any>;

const doc = buildOpenApiDocument() as Json;
const schemas = doc.components.schemas as Record<string, Json>;
const API_PATHS = Object.keys(doc.paths).filter((path) => path.startsWith('/api/'));

function allRefs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) allRefs(item, found);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner);
      else allRefs(inner, found);
    }
  }
  return found;
}

function schemaValidator(ref: string) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date', true).addFormat('date-time', true);
  ajv.addSchema({ $id: 'doc', components: doc.components });
  return ajv.compile({ $ref: `doc${ref}` });
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for swagger-parser', async () => {
    // swagger-parser dereferences in place: it gets its own copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
    expect(doc.openapi).toBe('3.1.0');
  });

  it('keeps every schema under components/schemas, each $ref pointing at one that exists', () => {
    expect(JSON.stringify(doc)).not.toContain('$defs');
    const refs = allRefs(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      const [, section, kind, name] = ref.split('/');
      expect({ ref, found: section === 'components' && name !== undefined && name in (doc.components[kind ?? ''] ?? {}) }).toEqual({
        ref,
        found: true,
      });
    }
    for (const schema of Object.values(schemas)) expect(schema).not.toHaveProperty('$id');
  });

  it('asks X-Device-Serial, alone or with X-Signature (§6), on every /api/v2/simple operation, and not on /health', () => {
    expect(doc.components.securitySchemes.DeviceSerial).toMatchObject({ type: 'apiKey', in: 'header', name: SERIAL_HEADER });
    expect(doc.components.securitySchemes.RequestSignature).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-Signature' });
    const relayOnly = [{ RelayId: [], RequestSignature: [] }];
    for (const path of API_PATHS) {
      for (const operation of Object.values(doc.paths[path]) as Json[]) {
        // Under /relais/: the relays' own endpoints (no till named); every other, a till's.
        if (path.startsWith('/api/v2/simple/relais/')) expect(operation.security).toEqual(relayOnly);
        else expect(operation.security).toEqual([{ DeviceSerial: [] }, { DeviceSerial: [], RequestSignature: [] }]);
      }
    }
    expect(doc.paths['/health'].get.security).toEqual([]);
    // The relays' own endpoint: no till named, the relay's id and its signature.
    expect(doc.components.securitySchemes.RelayId).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-Relay-Id' });
    expect(doc.paths[RELAY_TERMINALS_PATH].get.security).toEqual(relayOnly);
  });

  it('enumerates every request-level code under the status of the one code table', () => {
    for (const [code, status] of Object.entries(REQUEST_ERROR_STATUS) as Array<[RequestErrorCode, number]>) {
      expect(schemas[`Erreur${status}`]?.properties.code.enum, code).toContain(code);
      // Each code is named with what it means, for the person reading /docs.
      expect(doc.components.responses[`Erreur${status}`].description, code).toMatch(new RegExp(`\`${code}\` : \\S`));
      for (const path of API_PATHS) {
        const responses = (Object.values(doc.paths[path])[0] as Json).responses;
        expect(responses[String(status)], `${path} ${status}`).toEqual({ $ref: `#/components/responses/Erreur${status}` });
      }
    }
    const statuses = new Set(Object.values(REQUEST_ERROR_STATUS));
    const errorSchemas = Object.keys(schemas).filter((name) => /^Erreur\d+$/.test(name));
    expect(errorSchemas.map((name) => Number(name.slice(6))).sort()).toEqual([...statuses].sort());
    for (const name of errorSchemas) expect(schemas[name]?.required).toEqual(expect.arrayContaining(['error', 'code']));
  });

  it('enumerates the sale-level codes in ventes_erreurs[].code', () => {
    expect(schemas.VenteErreur?.properties.code.enum).toEqual([...SALE_ERROR_CODES]);
    expect(schemas.SyncResponse?.properties.ventes_erreurs.anyOf[0].items).toEqual({ $ref: '#/components/schemas/VenteErreur' });
  });

  it('describes the 413 body: the limit and what was received', () => {
    const body = schemas.Erreur413 as Json;
    expect(body.properties.code.enum).toEqual(expect.arrayContaining(['BATCH_TOO_LARGE', 'PAYLOAD_TOO_LARGE']));
    expect(body.properties.limit).toMatchObject({ type: 'integer', description: expect.stringContaining('500') });
    expect(body.properties.received).toMatchObject({ type: 'integer', description: expect.stringContaining('reçu') });
  });

  it('gives the sync request body its limit, the guide’s defaults, a description on every field and the guide’s example', () => {
    const body = doc.paths[SYNC_PATH].post.requestBody.content['application/json'];
    expect(body.schema).toEqual({ $ref: '#/components/schemas/LotVentes' });
    expect(schemas.LotVentes).toMatchObject({ type: 'array', maxItems: MAX_VENTES_PER_REQUEST });
    const vente = schemas.Vente as Json;
    const ligne = schemas.LigneVente as Json;
    expect(vente.required).toEqual(['lignes']);
    expect(ligne.required).toEqual(['article_id']);
    expect(vente.properties.mode_paiement.default).toBe('CASH');
    expect(vente.properties.paye.default).toBe(true);
    expect(ligne.properties.quantite.default).toBe(1);
    for (const [name, field] of [...Object.entries(vente.properties), ...Object.entries(ligne.properties)] as Array<[string, Json]>) {
      expect(field.description, name).toMatch(/\S/);
    }
    expect(body.examples.guide.value).toEqual(GUIDE_SYNC_EXAMPLE);
    const validate = schemaValidator('#/components/schemas/LotVentes');
    expect(validate(GUIDE_SYNC_EXAMPLE), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(Array.from({ length: MAX_VENTES_PER_REQUEST + 1 }, () => GUIDE_SYNC_EXAMPLE[0]))).toBe(false);
  });

  it('has response examples that follow their own schemas, for sales and for returns', () => {
    for (const path of [SYNC_PATH, RETOURS_PATH]) {
      for (const status of ['200', '201']) {
        const media = doc.paths[path].post.responses[status].content['application/json'];
        const validate = schemaValidator(media.schema.$ref);
        expect(Object.keys(media.examples ?? {}), `${path} ${status}`).not.toHaveLength(0);
        for (const example of Object.values(media.examples) as Json[]) {
          expect(validate(example.value), JSON.stringify(validate.errors)).toBe(true);
        }
      }
    }
  });

  it('documents the returns request with its example and its limit', () => {
    const body = doc.paths[RETOURS_PATH].post.requestBody.content['application/json'];
    const validate = schemaValidator('#/components/schemas/LotRetours');
    expect(validate(body.examples.retour.value), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(Array.from({ length: MAX_RETOURS_PER_REQUEST + 1 }, () => body.examples.retour.value[0]))).toBe(false);
    expect(validate([{ numero_facture: 'VENTE-002', lignes: [{ article_id: 7 }] }])).toBe(false);
  });

  it('gives every route a real response schema, never a bare string', () => {
    for (const [path, item] of Object.entries(doc.paths) as Array<[string, Json]>) {
      for (const operation of Object.values(item) as Json[]) {
        const ok = operation.responses['200'] ?? operation.responses['201'];
        const ref: string = ok.content['application/json'].schema.$ref;
        expect(schemas[ref.split('/').pop() ?? '']?.type, path).toBe('object');
      }
    }
  });

  it('takes the history query parameters from the schema the route validates with', () => {
    const parameters = doc.paths['/api/v2/simple/ventes/historique/'].get.parameters as Json[];
    expect(parameters.map((p) => p.name)).toEqual(Object.keys(HistoriqueQuerySchema.shape));
    expect(parameters.every((p) => p.in === 'query' && p.required === false && p.description)).toBe(true);
    expect(parameters[0]).toMatchObject({ name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } });
    expect(parameters[1]).toMatchObject({ name: 'offset', schema: { type: 'integer', minimum: 0, default: 0 } });
  });

  it('gives a client generated by openapi-typescript that type-checks against a till developer’s code', async () => {
    // defaultNonNullable: false, or the generator makes request fields that have a default
    // (mode_paiement, paye, quantite) required: right for answers, wrong for requests.
    const client = astToString(await openapiTS(structuredClone(doc) as never, { defaultNonNullable: false }));
    const dir = mkdtempSync(join(tmpdir(), 'ventesync-client-'));
    try {
      writeFileSync(join(dir, 'openapi-client.ts'), client);
      const usage = join(dir, 'usage.mts');
      copyFileSync(fileURLToPath(new URL('./openapi-client-usage.mts', import.meta.url)), usage);
      const program = ts.createProgram([usage], {
        strict: true,
        noUncheckedIndexedAccess: true,
        noEmit: true,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        types: [],
      });
      const problems = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(problems).toEqual([]);
      expect(program.getSourceFiles().some((file) => file.fileName.endsWith('openapi-client.ts'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
