import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOpenApiDocument } from '@ventesync/shared';
import { chromium } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createAnswerCheck } from './openapi-conformance.js';
import { openTestDb, SYNC, testApp } from './helpers.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.close();
});

function chromiumPath(): string | null {
  try {
    return execSync('command -v chromium', { encoding: 'utf8', shell: '/bin/sh' }).trim() || null;
  } catch {
    return null;
  }
}

describe('GET /openapi.json', () => {
  it('serves the document built from the shared schemas', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(buildOpenApiDocument('ventesync — serveur central'));
  });
});

describe('every answer of the test suite is checked against the document', () => {
  const doc = buildOpenApiDocument() as Record<string, any>;
  const check = createAnswerCheck(doc);
  const json = 'application/json; charset=utf-8';

  it('accepts a real answer of the server', async () => {
    const res = await t.sync([{ numero_facture: 'OA-1', lignes: [{ article_id: 6 }] }]);
    expect(res.statusCode).toBe(201);
    expect(check('POST', SYNC, res.statusCode, json, res.body)).toBeNull();
  });

  it('refuses a field the document does not describe', () => {
    const body = JSON.stringify({ error: 'x', code: 'TERMINAL_NOT_FOUND', serial: 'abc' });
    expect(check('POST', SYNC, 404, json, body)).toContain('additional properties');
  });

  it('refuses a code answered under another status than the code table gives it', () => {
    const body = JSON.stringify({ error: 'x', code: 'TERMINAL_NOT_FOUND' });
    expect(check('GET', '/api/v2/simple/articles/', 400, json, body)).toContain('allowed values');
  });

  it('refuses a status the operation does not document', () => {
    expect(check('GET', '/health', 404, json, '{}')).toContain("n'est pas documenté");
  });

  it('holds unknown routes to the error body of their status', () => {
    const body = JSON.stringify({ error: 'Route introuvable', code: 'NOT_FOUND' });
    expect(check('GET', '/nulle-part', 404, json, body)).toBeNull();
    expect(check('GET', '/nulle-part', 404, json, JSON.stringify({ message: 'Not Found' }))).toContain('Erreur404');
  });

  it('refuses an error answer that is not JSON with error and code, documented path or not', () => {
    expect(check('GET', '/nulle-part', 404, 'text/plain', 'Not Found')).toContain('non JSON');
    expect(check('POST', SYNC, 417, '', '')).toContain('non JSON');
    expect(check('POST', '/health', 405, '', '')).toContain('non JSON');
    expect(check('GET', '/nulle-part', 200, json, '{}')).toContain('hors de toute opération');
  });

  it('documents the 405 a known path gives to another method, with its Allow header', () => {
    const body = JSON.stringify({ error: 'Méthode POST non acceptée ici : GET, HEAD', code: 'METHOD_NOT_ALLOWED' });
    expect(check('POST', '/health', 405, json, body)).toBeNull();
    expect(doc.paths['/health'].get.responses['405']).toEqual({ $ref: '#/components/responses/Erreur405' });
    expect(doc.components.responses.Erreur405.headers.Allow).toBeDefined();
  });

  it('every answer of the listening server to odd requests is an error the document describes', async () => {
    const app = await buildApp({
      db: openTestDb(),
      logger: false,
      limits: { bodyRateWindowMs: 300, minBodyBytesPerSecond: 1_000, timeoutCheckIntervalMs: 50 },
    });
    const port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
    const raw = (text: string) =>
      new Promise<{ status: number; contentType: string; body: string }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(text));
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString()));
        socket.on('error', reject);
        socket.on('close', () => {
          const [head = '', body = ''] = received.split('\r\n\r\n');
          resolve({
            status: Number(head.split(' ')[1]),
            contentType: /content-type: *([^\r]*)/i.exec(head)?.[1] ?? '',
            body,
          });
        });
      });
    try {
      const cases: Array<[string, string, string, number]> = [
        ['POST', '/health', 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 405],
        ['OPTIONS', '*', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 404],
        ['DELETE', '/*/x', 'DELETE /*/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 404],
        ['DELETE', '/:a(', 'DELETE /:a( HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 404],
        ['DELETE', '/docs/*', 'DELETE /docs/* HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 404],
        ['DELETE', '/docs/static/index.html', 'DELETE /docs/static/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 405],
        ['POST', SYNC, `POST ${SYNC} HTTP/1.1\r\nHost: x\r\nExpect: banana\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]`, 417],
        ['CONNECT', '/', 'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n', 405],
        ['POST', '/echo', 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[1,', 408],
      ];
      for (const [method, path, text, status] of cases) {
        const answer = await raw(text);
        expect(answer.status, text).toBe(status);
        expect(check(method, path, answer.status, answer.contentType, answer.body), text).toBeNull();
      }
    } finally {
      await app.close();
    }
  });

  it('makes an injected request of the test app fail when its answer breaks the document', async () => {
    // A documented route answering with a field the document does not describe.
    t.app.addHook('onSend', async (request, _reply, payload) =>
      request.url === '/health' ? JSON.stringify({ status: 'ok', extra: 1 }) : payload,
    );
    await expect(t.app.inject({ method: 'GET', url: '/health' })).rejects.toThrow(/hors du document OpenAPI.*additional/);
  });
});

const CHROMIUM = chromiumPath();
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = join(tmpdir(), 'ventesync-docs.png');
const SCREENSHOT_201 = join(tmpdir(), 'ventesync-docs-201.png');

describe('GET /docs in a real browser', () => {
  if (!CHROMIUM) {
    it.skip('shows the API without errors — skipped: no `chromium` on PATH (apt-get install -y chromium)', () => {});
    return;
  }

  it('shows the operations, their real response schemas and no resolver error, with nothing loaded from the internet', async () => {
    const db = openTestDb();
    const app = await buildApp({ db, logger: false });
    const origin = (await app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
    const profile = mkdtempSync(join(tmpdir(), 'ventesync-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 2000 },
    });
    const outside: string[] = [];
    const pageErrors: string[] = [];
    try {
      // The page must work offline: anything not from this server is refused and noted.
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(origin)) return route.continue();
        outside.push(url);
        return route.abort();
      });
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(message.text());
      });
      await page.goto(`${origin}/docs`);

      const operation = page.locator('.opblock', { hasText: 'Synchroniser un lot de ventes' });
      await operation.getByText('Synchroniser un lot de ventes').click();
      await expect.poll(() => operation.innerText(), { timeout: 15_000 }).toContain('Exemple du guide');
      // The 201 answer's model, as a person opens it: the "Schema" tab beside "Example Value".
      const created = operation.locator('tr.response', { hasText: 'Au moins une vente créée' });
      await created.getByRole('tab', { name: 'Schema' }).click();
      await expect.poll(() => created.innerText(), { timeout: 15_000 }).toContain('ventes_creees');

      expect(await page.title()).toBe('ventesync — API');
      const text = await page.locator('body').innerText();
      expect(text).toContain('ventesync — serveur central');
      expect(text).toContain('/api/v2/simple/ventes/historique/');
      expect(text).toContain('VENTE-001');
      expect(text).toContain('BATCH_TOO_LARGE');
      const model = await created.innerText();
      expect(model).toContain('SyncResponse');
      expect(model).toContain('ventes_erreurs');
      expect(text).not.toMatch(/Resolver error|Could not resolve|Unable to render|Errors\n/);
      expect(text).not.toContain('Warning');
      expect(pageErrors).toEqual([]);
      expect(outside).toEqual([]);
      await operation.screenshot({ path: SCREENSHOT });
      await created.screenshot({ path: SCREENSHOT_201 });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await app.close();
      db.close();
    }
  }, 90_000);
});
