import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, createUpstream, MAX_ANSWER_BYTES } from '../src/upstream.js';

let server: Server | undefined;
const agent = createAgent({ connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000 });

/** A server answering every request with `handler`. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('upstream', () => {
  it('an answer larger than the cap is a failure to read, without reading it whole (streamed, no length)', async () => {
    let written = 0;
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      // Endless: a broken server or proxy; the relay must stop reading on its own.
      const pump = () => {
        while (written < 20 * MAX_ANSWER_BYTES && res.write(chunk)) written += chunk.length;
        if (written < 20 * MAX_ANSWER_BYTES) res.once('drain', pump);
        else res.end();
      };
      pump();
    });
    const answer = await createUpstream(url, agent).postSync('S', '[]');
    expect(answer).toMatchObject({ kind: 'network-error', unreadable: true, reason: expect.stringMatching(/trop volumineuse/) });
    expect(written).toBeLessThan(20 * MAX_ANSWER_BYTES);
  });

  it('an answer declaring a length over the cap is refused before its body is read', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_ANSWER_BYTES + 1) });
      res.write('{');
    });
    expect(await createUpstream(url, agent).get('/x', 'S')).toMatchObject({ kind: 'network-error', unreadable: true });
  });

  it('a small cap applies as well (configurable), and an answer under it is read', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: 'x'.repeat(100) }));
    });
    expect(await createUpstream(url, agent, { maxAnswerBytes: 50 }).get('/x', 'S')).toMatchObject({ kind: 'network-error', unreadable: true });
    expect(await createUpstream(url, agent, { maxAnswerBytes: 500 }).get('/x', 'S')).toMatchObject({ kind: 'response', status: 200 });
  });

  it("measures the server's clock against ours from its Date header, on the answer (the forwarder decides whether to use it)", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', date: new Date(Date.now() + 3_600_000).toUTCString() });
      res.end('{}');
    });
    const answer = await createUpstream(url, agent).get('/x', 'S');
    expect(answer.kind).toBe('response');
    const offset = answer.kind === 'response' ? answer.clockOffsetMs! : Number.NaN;
    expect(Math.abs(offset - 3_600_000)).toBeLessThan(2_000);
  });

  it('an answer that dribbles a byte every 100 ms (each gap far under the body timeout) ends at the deadline, as an unsure failure', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      const timer = setInterval(() => res.write(' '), 100);
      res.once('close', () => clearInterval(timer));
    });
    const timeouts = { connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000, deadlineMs: 800 };
    const answer = await createUpstream(url, createAgent(timeouts), { timeouts }).postSync('S', '[]');
    expect(answer).toMatchObject({ kind: 'network-error', maybeReceived: true, reason: expect.stringMatching(/DELAI_DEPASSE.*1 s/) });
  });

  it('the deadline also bounds a read given a longer one, and a refused connection is known not to have reached the server', async () => {
    const url = await serve(() => {
      // Never answers.
    });
    const timeouts = { connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000, deadlineMs: 600 };
    expect(await createUpstream(url, createAgent(timeouts), { timeouts }).get('/x', 'S', 60_000)).toMatchObject({
      kind: 'network-error',
      reason: expect.stringMatching(/DELAI_DEPASSE/),
    });
    // Port 1: nothing listens there, the connection is refused.
    expect(await createUpstream('http://127.0.0.1:1', agent).postSync('S', '[]')).toMatchObject({ kind: 'network-error', maybeReceived: false });
  });
});
