import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { codeOfStatus } from '@ventesync/shared';
import { answerOf, storageFailureOf } from '../src/http/index.js';
import { listening, rawRequest } from './http-test-server.js';

describe('every error is JSON with error and code, framework errors too', () => {
  it.each([
    ['headers too large', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['a malformed header', 'GET /health HTTP/1.1\r\nHost: x\r\nBad Header\u0001: y\r\n\r\n', 400, 'BAD_REQUEST'],
    ['a URL too long', `GET /health?q=${'a'.repeat(9_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'URI_TOO_LONG'],
    ['a URL that does not decode', 'GET /fails/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'BAD_REQUEST'],
    ['an unknown route', 'GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'NOT_FOUND'],
    ['a known route with another method', 'DELETE /health HTTP/1.1\r\nHost: x\r\n\r\n', 405, 'METHOD_NOT_ALLOWED'],
    ['a body that is not JSON', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{{{', 400, 'INVALID_JSON'],
    ['a body over the limit', `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${6 * 1024 * 1024}\r\n\r\n[`, 413, 'PAYLOAD_TOO_LARGE'],
    ['a request line OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'NOT_FOUND'],
    ['a path that is a route pattern with a wildcard', 'DELETE /*/x HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'NOT_FOUND'],
    ['a path that is a broken route pattern', 'DELETE /:a( HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'NOT_FOUND'],
    ['a path written as the wildcard route', 'DELETE /docs/* HTTP/1.1\r\nHost: x\r\n\r\n', 405, 'METHOD_NOT_ALLOWED'],
    ['a path under a wildcard route with another method', 'POST /docs/static/index.css HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', 405, 'METHOD_NOT_ALLOWED'],
    ['a parametric route with another method', 'PUT /fails/SQLITE_FULL/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', 405, 'METHOD_NOT_ALLOWED'],
    ['an Expect header other than 100-continue', 'POST /echo HTTP/1.1\r\nHost: x\r\nExpect: banana\r\nContent-Length: 2\r\n\r\n[]', 417, 'EXPECTATION_FAILED'],
    ['a CONNECT request', 'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n', 405, 'METHOD_NOT_ALLOWED'],
    ['a body shorter than its Content-Length', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'BAD_REQUEST'],
  ])('%s', async (_label, request, status, code) => {
    const { port } = await listening({}, false, (server) => server.get('/docs/*', async () => ({ doc: true })));
    const answer = await rawRequest(port, request);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ code, error: expect.any(String) });
    expect(answer.head).toMatch(/content-type: application\/json/i);
  });
});

describe('storage failures', () => {
  it.each(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_TIMEOUT'])('%s is 503 SERVICE_UNAVAILABLE with Retry-After', async (sqliteCode) => {
    const { url } = await listening();
    const res = await fetch(`${url}/fails/${sqliteCode}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it.each(['SQLITE_FULL', 'ENOSPC', 'EDQUOT'])('%s is 507 STORAGE_FULL, in French, and reported', async (sqliteCode) => {
    const failures: string[] = [];
    const { url } = await listening({ onStorageFailure: (kind) => failures.push(kind) });
    const res = await fetch(`${url}/fails/${sqliteCode}`);
    expect(res.status).toBe(507);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await res.json()).toEqual({ code: 'STORAGE_FULL', error: expect.stringContaining('disque du serveur est plein') });
    expect(failures).toEqual(['full']);
  });

  it.each(['SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_IOERR_READ', 'EIO'])(
    '%s (a failing disk, not a full one) is 503 STORAGE_ERROR saying so, and reported',
    async (sqliteCode) => {
      const failures: string[] = [];
      const { url } = await listening({ onStorageFailure: (kind) => failures.push(kind) });
      const res = await fetch(`${url}/fails/${sqliteCode}`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      const body = (await res.json()) as { code: string; error: string };
      expect(body).toEqual({ code: 'STORAGE_ERROR', error: expect.stringContaining("erreur d'entrée-sortie") });
      expect(body.error).not.toContain('plein');
      expect(failures).toEqual(['io']);
    },
  );

  it('other errors are not storage failures', () => {
    expect(storageFailureOf(Object.assign(new Error(), { code: 'SQLITE_CONSTRAINT_CHECK' }))).toBeNull();
    expect(storageFailureOf(new Error())).toBeNull();
    expect(storageFailureOf(null)).toBeNull();
  });
});


describe('one mapping from errors to codes', () => {
  it('an error known only by its status gets the generic code of that status', () => {
    expect(codeOfStatus(400)).toBe('BAD_REQUEST');
    expect(codeOfStatus(404)).toBe('NOT_FOUND');
    expect(codeOfStatus(413)).toBe('PAYLOAD_TOO_LARGE');
    expect(codeOfStatus(503)).toBe('SERVICE_UNAVAILABLE');
    expect(codeOfStatus(418)).toBe('BAD_REQUEST');
  });

  it('the same error gets the same answer whoever meets it: route, router or Node', () => {
    const timeout = Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    const overflow = Object.assign(new Error('overflow'), { code: 'HPE_HEADER_OVERFLOW' });
    const tooLarge = Object.assign(new Error('big'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    expect(answerOf(timeout, 10)).toMatchObject({ status: 408, body: { code: 'REQUEST_TIMEOUT' } });
    expect(answerOf(overflow, 10)).toMatchObject({ status: 431, body: { code: 'HEADERS_TOO_LARGE' } });
    expect(answerOf(tooLarge, 10)).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE', limit: 10 } });
    expect(answerOf(new Error('bug'), 10)).toMatchObject({ status: 500, body: { code: 'INTERNAL_ERROR' } });
  });

  it('a database gone away (PostgreSQL restarting) is 503 with the Retry-After its storage layer gives', () => {
    const gone = Object.assign(new Error('Base de données PostgreSQL momentanément injoignable'), { ventesyncCode: 'DATABASE_FAILING', retryAfterSeconds: 2 });
    expect(answerOf(gone, 10)).toMatchObject({ status: 503, retryAfterSeconds: 2, body: { code: 'DATABASE_FAILING' } });
  });

  it('a database gone away is logged as a warning with its cause, not as an unexpected error with a stack', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const { port } = await listening({}, logger, (server) =>
      server.get('/pg', async () => {
        throw Object.assign(new Error('Base de données PostgreSQL momentanément injoignable'), {
          ventesyncCode: 'DATABASE_FAILING',
          retryAfterSeconds: 2,
          cause: { code: '57P01', message: 'terminating connection due to administrator command' },
        });
      }),
    );
    const answer = await rawRequest(port, 'GET /pg HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answer.status).toBe(503);
    const said = lines.filter((l) => (l.level as number) >= 40);
    expect(said).toEqual([
      expect.objectContaining({ level: 40, msg: 'Base de données PostgreSQL momentanément injoignable', code: 'DATABASE_FAILING', cause: { code: '57P01', message: 'terminating connection due to administrator command' } }),
    ]);
    expect(JSON.stringify(said)).not.toContain('stack');
  });
});
