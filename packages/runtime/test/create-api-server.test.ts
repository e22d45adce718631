import { errorBody } from '@ventesync/shared';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listening, parseRawAnswer, rawClient, waitFor } from './http-test-server.js';

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

