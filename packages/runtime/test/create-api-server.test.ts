import { errorBody } from '@ventesync/shared';
import type { FastifyInstance } from 'fastify';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiServerOptions, connectionCap, createApiServer, fileDescriptorLimit, storageFailureOf } from '../src/http/index.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const BIG_ANSWER = 'x'.repeat(256 * 1024);

/** A server with a few routes standing for real ones, listening on a free port. */
async function listening(
  options: ApiServerOptions = {},
  logger: Logger | false = false,
  setup: (server: FastifyInstance) => void = () => {},
) {
  app = createApiServer(logger, options);
  setup(app);
  app.get('/health', async () => ({ status: 'ok' }));
  app.post('/echo', async (request) => ({ received: request.body }));
  app.get('/big', async () => ({ data: BIG_ANSWER }));
  app.get('/fails/:code', async (request) => {
    throw Object.assign(new Error('disk says no'), { code: (request.params as { code: string }).code });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = new URL(url);
  return { url, port: Number(port) };
}

/** Resolves once `condition` holds, polling; fails after the deadline. */
async function waitFor(condition: () => boolean | Promise<boolean>, deadlineMs = 10_000, what = 'condition') {
  const end = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw TCP client: what it received, and whether the server closed it. */
function rawClient(port: number) {
  const socket = connect(port, '127.0.0.1');
  const state = { received: '', closed: false, connected: false, socket };
  socket.on('connect', () => (state.connected = true));
  socket.on('data', (chunk) => (state.received += chunk.toString()));
  socket.on('error', () => {});
  socket.on('close', () => (state.closed = true));
  return state;
}

function parseRawAnswer(text: string) {
  const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  return { status: Number(head.split(' ')[1]), head, body: JSON.parse(body) as Record<string, unknown> };
}

const FAST = { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 200, socketIdleTimeoutMs: 500, timeoutCheckIntervalMs: 50 };

describe('connections', () => {
  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const { port } = await listening({ limits: FAST });
    const client = rawClient(port);
    client.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => client.received.includes('"ok"'), 5_000, 'answer');
    expect(client.received).toMatch(/keep-alive/i);
    await waitFor(() => client.closed, 5_000, 'idle connection closed');
  });

  it('a connection that never sends a request is closed', async () => {
    const { port } = await listening({ limits: FAST });
    const client = rawClient(port);
    await waitFor(() => client.closed, 5_000, 'silent connection closed');
  });

  it('a client sending its headers one byte at a time is cut with 408 REQUEST_TIMEOUT', async () => {
    const { port } = await listening({ limits: FAST });
    const client = rawClient(port);
    const request = 'GET /health HTTP/1.1\r\nHost: x\r\nX-Device-Serial: 0a1badae951f8473\r\nX-Padding: ' + 'a'.repeat(200);
    let i = 0;
    const drip = setInterval(() => {
      if (!client.closed && i < request.length) client.socket.write(request[i++]!);
    }, 20);
    try {
      await waitFor(() => client.closed, 5_000, 'slow client cut');
    } finally {
      clearInterval(drip);
    }
    expect(i).toBeLessThan(request.length);
    const answer = parseRawAnswer(client.received);
    expect(answer.status).toBe(408);
    expect(answer.body).toEqual({ code: 'REQUEST_TIMEOUT', error: expect.any(String) });
  });

  it('past the connection cap the oldest idle connection makes room: a new client is still answered', async () => {
    const { url, port } = await listening({ limits: { maxConnections: 20 } });
    const idle = Array.from({ length: 100 }, () => rawClient(port));
    await waitFor(() => idle.every((c) => c.connected || c.closed), 10_000, 'all connected');
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    await waitFor(() => idle.filter((c) => !c.closed).length <= 20, 5_000, 'idle connections evicted');
    for (const c of idle) c.socket.destroy();
  });

  it('a client that sends many requests and never reads its answers is disconnected, its answers not piled up', async () => {
    let served = 0;
    let maxBuffered = 0;
    const serverSide: Socket[] = [];
    const { port } = await listening({ limits: FAST }, false, (server) => {
      server.server.on('connection', (socket: Socket) => serverSide.push(socket));
      server.addHook('onResponse', async (request) => {
        served++;
        maxBuffered = Math.max(maxBuffered, request.raw.socket?.writableLength ?? 0);
      });
    });
    const client = rawClient(port);
    client.socket.pause(); // never reads, so it would not even see the server close: watch the server's side
    const requests = 2_000;
    client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(requests));
    await waitFor(() => serverSide.length === 1 && serverSide[0]!.destroyed, 10_000, 'non-reading client disconnected');
    client.socket.destroy();
    // 2,000 answers of 256 KiB would be 500 MiB: the server stopped well before.
    expect(served).toBeLessThan(requests);
    expect(maxBuffered).toBeLessThan(8 * 1024 * 1024);
  });

  it('the connection cap stays below the process file limit', () => {
    const limit = fileDescriptorLimit();
    expect(limit).toBeGreaterThan(0);
    expect(connectionCap(limit)).toBeLessThan(limit);
    expect(connectionCap(1024)).toBe(960);
  });
});

describe('every error is JSON with error and code, framework errors too', () => {
  async function raw(port: number, text: string) {
    const client = rawClient(port);
    client.socket.write(text);
    await waitFor(() => client.received.includes('\r\n\r\n') && client.received.trim().endsWith('}'), 5_000, 'answer');
    client.socket.destroy();
    return parseRawAnswer(client.received);
  }

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
    const answer = await raw(port, request);
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

describe('load shedding', () => {
  it('under memory pressure a request gets 503 OVERLOADED with Retry-After', async () => {
    const { url } = await listening({ limits: { pressure: { maxHeapUsedBytes: 1, sampleIntervalMs: 10 } } });
    let res: Response | undefined;
    await waitFor(async () => (res = await fetch(`${url}/health`)).status === 503, 5_000, 'shedding');
    expect(res!.headers.get('retry-after')).toBe('5');
    expect(await res!.json()).toEqual(errorBody('OVERLOADED', expect.any(String)));
  });
});

describe('access log', () => {
  it('one info line per request, 4xx included, with method, route, status, duration, serial and request id', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const { url } = await listening({}, pino({ level: 'info' }, stream) as Logger);
    await fetch(`${url}/health`, { headers: { 'x-device-serial': 'caisse-desactivee' } });
    await fetch(`${url}/nowhere?x=1`, { headers: { 'x-device-serial': 'caisse-desactivee' } });
    await fetch(`${url}/echo`, { method: 'POST', body: '{{' });
    await waitFor(() => lines.filter((l) => 'status' in l).length >= 3, 5_000, 'three access lines');
    const access = lines.filter((l) => 'status' in l);
    expect(access).toHaveLength(3);
    expect(access[0]).toMatchObject({ level: 30, method: 'GET', route: '/health', status: 200, serial: 'caisse-desactivee', reqId: expect.any(String) });
    expect(access[0]!.duration_ms).toEqual(expect.any(Number));
    expect(access[1]).toMatchObject({ level: 30, method: 'GET', route: null, status: 404, serial: 'caisse-desactivee' });
    expect(access[2]).toMatchObject({ level: 30, method: 'POST', route: '/echo', status: 400, serial: null });
    expect(new Set(access.map((l) => l.reqId)).size).toBe(3);
  });
});
