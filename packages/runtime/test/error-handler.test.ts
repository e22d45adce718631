import { describe, expect, it } from 'vitest';
import { storageFailureOf } from '../src/http/index.js';
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
    ['a body shorter than its Content-Length', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'BAD_REQUEST'],
  ])('%s', async (_label, request, status, code) => {
    const { port } = await listening();
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

  it.each(['SQLITE_FULL', 'ENOSPC', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC'])('%s is 507 STORAGE_FULL, in French, and reported', async (sqliteCode) => {
    const failures: string[] = [];
    const { url } = await listening({ onStorageFailure: (kind) => failures.push(kind) });
    const res = await fetch(`${url}/fails/${sqliteCode}`);
    expect(res.status).toBe(507);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await res.json()).toEqual({ code: 'STORAGE_FULL', error: expect.stringContaining('disque du serveur est plein') });
    expect(failures).toEqual(['full']);
  });

  it('other errors are not storage failures', () => {
    expect(storageFailureOf(Object.assign(new Error(), { code: 'SQLITE_CONSTRAINT_CHECK' }))).toBeNull();
    expect(storageFailureOf(new Error())).toBeNull();
    expect(storageFailureOf(null)).toBeNull();
  });
});

