import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

type Json = Record<string, any>;

/** Checks one answer against the OpenAPI document; returns what is wrong, or null. */
export type AnswerCheck = (method: string, url: string, status: number, contentType: string, body: string) => string | null;

const DOC_ID = 'ventesync-openapi';

/** Outside the API, and so outside the document: the document itself and its viewer. */
const isDocumentation = (path: string) => path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');

/**
 * Every answer must be one the document promises: the operation's response for that status,
 * its JSON body valid against the document's own schemas (Ajv, JSON Schema 2020-12, as
 * OpenAPI 3.1 says); a response the document gives no body has none. Answers outside the
 * documented operations (unknown routes, other methods) are errors, JSON with the error body
 * of their status: an empty or non-JSON error (Node's own 417, say) is refused. Only the
 * document and its viewer (/openapi.json, /docs) answer outside it. HEAD is GET without a body.
 */
export function createAnswerCheck(doc: Json): AnswerCheck {
  // OpenAPI's own keywords (`example`, `discriminator`…) are not JSON Schema: not strict. Formats
  // are annotations here: the patterns carry the rule.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: DOC_ID, components: doc.components });
  const compiled = new Map<string, ValidateFunction>();
  const validatorOf = (ref: string): ValidateFunction => {
    let validate = compiled.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: `${DOC_ID}${ref}` });
      compiled.set(ref, validate);
    }
    return validate;
  };
  const resolve = (object: Json): Json =>
    typeof object.$ref === 'string' ? resolve(object.$ref.slice(2).split('/').reduce((o: Json, key: string) => o[key], doc)) : object;

  return (rawMethod, url, status, contentType, body) => {
    const path = url.split('?')[0] ?? '';
    const method = rawMethod.toUpperCase();
    const head = method === 'HEAD';
    const pathItem: Json | undefined = doc.paths[path] ?? doc.paths[`${path}/`] ?? doc.paths[path.replace(/\/$/, '')];
    const operation: Json | undefined = pathItem?.[head ? 'get' : method.toLowerCase()];
    let schemaRef: string;
    if (operation) {
      const response = operation.responses[String(status)];
      if (!response) return `${method} ${path} : le statut ${status} n'est pas documenté`;
      const media = resolve(response).content?.['application/json'];
      if (head || !media) return body === '' ? null : `${method} ${path} ${status} : un corps que le document ne décrit pas`;
      schemaRef = media.schema.$ref;
    } else if (status >= 400) {
      schemaRef = `#/components/schemas/Erreur${status}`;
      if (!doc.components.schemas[`Erreur${status}`]) return `${method} ${path} : le statut ${status} n'est pas dans la table des codes`;
      if (head) return body === '' ? null : `${method} ${path} ${status} : un corps à une requête HEAD`;
    } else if ((method === 'GET' || head) && isDocumentation(path)) {
      return null;
    } else {
      return `${method} ${path} ${status} : réponse réussie hors de toute opération documentée`;
    }
    if (!contentType.includes('application/json')) return `${method} ${path} ${status} : réponse non JSON (${contentType})`;
    const validate = validatorOf(schemaRef);
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return `${method} ${path} ${status} : corps JSON illisible`;
    }
    if (validate(value)) return null;
    const errors = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
      .join('; ');
    return `${method} ${path} ${status} ne suit pas ${schemaRef} : ${errors} — corps : ${body.slice(0, 300)}`;
  };
}

// Test files build a fresh app per test; the document, and so its compiled schemas, is the same.
const checks = new Map<string, AnswerCheck>();
function checkFor(documentText: string): AnswerCheck {
  let check = checks.get(documentText);
  if (!check) {
    check = createAnswerCheck(JSON.parse(documentText));
    checks.set(documentText, check);
  }
  return check;
}

/**
 * Makes every `app.inject(options)` of a test fail when its answer is not one the app's own
 * /openapi.json promises: the document then needs the new field, status or code (in
 * packages/shared/src/response-schemas.ts or error-codes.ts), or the answer is wrong.
 */
export function checkAnswersAgainstOpenApi(app: FastifyInstance): void {
  const inject = app.inject.bind(app) as (options: InjectOptions | string) => Promise<LightMyRequestResponse>;
  let check: AnswerCheck | undefined;
  const checked = async (options: InjectOptions | string): Promise<LightMyRequestResponse> => {
    const res = await inject(options);
    check ??= checkFor((await inject({ method: 'GET', url: '/openapi.json' })).body);
    const method = typeof options === 'string' ? 'GET' : (options.method ?? 'GET');
    const url = typeof options === 'string' ? options : String(options.url ?? options.path ?? '/');
    const problem = check(String(method), url, res.statusCode, String(res.headers['content-type'] ?? ''), res.body);
    if (problem) throw new Error(`Réponse hors du document OpenAPI : ${problem}`);
    return res;
  };
  app.inject = ((...args: unknown[]) =>
    args.length === 1 && args[0] !== undefined
      ? checked(args[0] as InjectOptions | string)
      : (inject as (...rest: unknown[]) => unknown)(...args)) as FastifyInstance['inject'];
}
