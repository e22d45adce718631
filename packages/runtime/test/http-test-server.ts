import type { FastifyInstance } from 'fastify';
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { afterEach } from 'vitest';
import { type ApiServerOptions, createApiServer } from '../src/http/index.js';

// A listening server built by createApiServer, with a few routes standing for real ones, and
// the raw-socket tools the HTTP tests share. Each test file that imports this closes its server.

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const BIG_ANSWER = 'x'.repeat(256 * 1024);

/** Starts the server on a free port: `/health`, `/echo` (POST), `/big` (256 KiB), `/fails/:code` (throws that code). */
export async function listening(
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
  return { url, port: Number(new URL(url).port), server: app };
}

/** Resolves once `condition` holds, polling; fails after the deadline. */
export async function waitFor(condition: () => boolean | Promise<boolean>, deadlineMs = 10_000, what = 'condition') {
  const end = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw TCP client: what it received, and whether the server closed it. */
export function rawClient(port: number) {
  const socket = connect(port, '127.0.0.1');
  const state = { received: '', closed: false, connected: false, socket };
  socket.on('connect', () => (state.connected = true));
  socket.on('data', (chunk) => (state.received += chunk.toString()));
  socket.on('error', () => {});
  socket.on('close', () => (state.closed = true));
  return state;
}

export function parseRawAnswer(text: string) {
  const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  return { status: Number(head.split(' ')[1]), head, body: JSON.parse(body) as Record<string, unknown> };
}

/** Sends raw bytes and reads one JSON answer. */
export async function rawRequest(port: number, text: string) {
  const client = rawClient(port);
  client.socket.write(text);
  await waitFor(() => client.received.includes('\r\n\r\n') && client.received.trim().endsWith('}'), 5_000, 'answer');
  client.socket.destroy();
  return parseRawAnswer(client.received);
}
