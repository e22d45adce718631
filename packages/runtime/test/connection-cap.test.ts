import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectionGuardOf } from '../src/http/index.js';
import { listening, parseRawAnswer, rawClient, waitFor } from './http-test-server.js';

describe('connection cap', () => {
  it('past the connection cap the oldest idle connection makes room: a new client is still answered', async () => {
    const { url, port } = await listening({ limits: { maxConnections: 20 } });
    const idle = Array.from({ length: 100 }, () => rawClient(port));
    await waitFor(() => idle.every((c) => c.connected || c.closed), 10_000, 'all connected');
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    await waitFor(() => idle.filter((c) => !c.closed).length <= 20, 5_000, 'idle connections evicted');
    for (const c of idle) c.socket.destroy();
  });

  it('when every connection is busy, the newcomer is the one turned away', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let inProgress = 0;
    const { url, port } = await listening({ limits: { maxConnections: 3 } }, false, (server) =>
      server.get('/slow', async () => {
        inProgress++;
        await held;
        return { done: true };
      }),
    );
    const busy = Array.from({ length: 3 }, () => fetch(`${url}/slow`));
    await waitFor(() => inProgress === 3, 5_000, 'three requests in progress');
    const late = rawClient(port);
    await waitFor(() => late.closed, 5_000, 'newcomer turned away');
    release();
    for (const res of await Promise.all(busy)) expect(res.status).toBe(200);
  });
});

describe('connections that hold the server', () => {
  const SLOW = { minBodyBytesPerSecond: 1_000, bodyRateWindowMs: 300, timeoutCheckIntervalMs: 50 };

  it('a body sent one byte at a time is cut with 408 REQUEST_TIMEOUT, long before the request timeout', async () => {
    const { port } = await listening({ limits: SLOW });
    const client = rawClient(port);
    client.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[');
    const drip = setInterval(() => client.closed || client.socket.write(' '), 100);
    try {
      await waitFor(() => client.closed, 5_000, 'slow body cut');
    } finally {
      clearInterval(drip);
    }
    const answer = parseRawAnswer(client.received);
    expect(answer.status).toBe(408);
    expect(answer.body).toEqual({ code: 'REQUEST_TIMEOUT', error: expect.stringContaining('trop lentement') });
  });

  it('a body that stops half-way gets 408 REQUEST_TIMEOUT in JSON before the connection closes', async () => {
    // Even when the idle timeout fires first.
    const { port } = await listening({ limits: { ...SLOW, bodyRateWindowMs: 60_000, socketIdleTimeoutMs: 300 } });
    const client = rawClient(port);
    client.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[1,2,');
    await waitFor(() => client.closed, 5_000, 'stalled body cut');
    expect(parseRawAnswer(client.received)).toMatchObject({ status: 408, body: { code: 'REQUEST_TIMEOUT' } });
  });

  it('a body sent at a modest but steady rate is received whole', async () => {
    const { port } = await listening({ limits: SLOW });
    const client = rawClient(port);
    const items = 60;
    const body = `[${Array.from({ length: items }, () => '"' + 'x'.repeat(98) + '"').join(',')}]`;
    client.socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`);
    // ~2 kB/s, twice the minimum, over several windows.
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < body.length) client.socket.write(body.slice(sent, (sent += 100)));
    }, 50);
    try {
      await waitFor(() => client.closed, 10_000, 'answer');
    } finally {
      clearInterval(drip);
    }
    const answer = parseRawAnswer(client.received);
    expect(answer.status).toBe(200);
    expect((answer.body.received as unknown[]).length).toBe(items);
  });

  it('when every slot holds a slow upload, a newcomer takes the slot of the slowest', async () => {
    const { url, port } = await listening({ limits: { maxConnections: 5, bodyRateWindowMs: 60_000 } });
    const slow = Array.from({ length: 5 }, () => rawClient(port));
    for (const c of slow) c.socket.on('connect', () => c.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n['));
    await waitFor(() => slow.every((c) => c.connected), 5_000, 'slow uploads connected');
    // Let the server see their headers before the newcomer arrives.
    await new Promise((r) => setTimeout(r, 100));
    try {
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      await waitFor(() => slow.some((c) => c.closed), 5_000, 'a slow upload cut');
      const cut = slow.find((c) => c.closed)!;
      expect(parseRawAnswer(cut.received)).toMatchObject({ status: 408, body: { code: 'REQUEST_TIMEOUT' } });
    } finally {
      for (const c of slow) c.socket.destroy();
    }
  });

  it('at the cap, the upload slowest now is cut, not a till on a slow link overtaking one that sent fast at first', async () => {
    const { url, port } = await listening({
      limits: { maxConnections: 2, minBodyBytesPerSecond: 0, bodyRateWindowMs: 400, timeoutCheckIntervalMs: 50 },
    });
    // The attacker sends 100 kB at once, then a byte every 100 ms; the till a steady 2 kB/s.
    const attacker = rawClient(port);
    const till = rawClient(port);
    await waitFor(() => attacker.connected && till.connected, 5_000, 'both connected');
    attacker.socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n[${' '.repeat(100_000)}`);
    till.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n[');
    const drip = setInterval(() => {
      if (!attacker.closed) attacker.socket.write(' ');
      if (!till.closed) till.socket.write(' '.repeat(100));
    }, 50);
    try {
      // Past a few windows: since their headers the attacker still averages far more than the till.
      const start = Date.now();
      await waitFor(() => Date.now() - start > 1_500, 5_000, 'a few windows gone by');
      expect((await fetch(`${url}/health`)).status).toBe(200);
      await waitFor(() => attacker.closed || till.closed, 5_000, 'an upload cut');
      expect(attacker.closed).toBe(true);
      expect(till.closed).toBe(false);
      expect(parseRawAnswer(attacker.received)).toMatchObject({ status: 408, body: { code: 'REQUEST_TIMEOUT' } });
    } finally {
      clearInterval(drip);
      attacker.socket.destroy();
      till.socket.destroy();
    }
  });

  it('a client pipelining many requests it never reads is closed after a few, not served a thousand times', async () => {
    let started = 0;
    const serverSide: Socket[] = [];
    const { port } = await listening({ limits: { maxPipelinedRequests: 16 } }, false, (server) => {
      server.server.on('connection', (socket: Socket) => serverSide.push(socket));
      server.get('/count', async () => {
        started++;
        return { started };
      });
    });
    const client = rawClient(port);
    client.socket.pause();
    client.socket.write('GET /count HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1_000));
    // A paused client sees no close: the server's side of it is what ends.
    await waitFor(() => serverSide.length === 1 && serverSide[0]!.destroyed, 5_000, 'pipelining client closed');
    client.socket.destroy();
    // The requests before the bound are worked on (their answers go nowhere); none after it.
    await waitFor(() => started >= 16, 5_000, 'the first requests served');
    expect(started).toBe(16);
  });

  it('a client pipelining past the bound gets answers to the first requests, then a 503 OVERLOADED, then the connection closes', async () => {
    const { port } = await listening({ limits: { maxPipelinedRequests: 16 } });
    const client = rawClient(port);
    client.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20));
    await waitFor(() => client.closed, 5_000, 'connection closed after the answers');
    const statuses = [...client.received.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([...Array<number>(16).fill(200), 503]);
    expect(client.received).toContain('"code":"OVERLOADED"');
  });

  it('a client pipelining past the bound that does not read its answers is not waited for until the idle timeout', async () => {
    const serverSide: Socket[] = [];
    const { port } = await listening({ limits: { maxPipelinedRequests: 16, maxUnsentBytes: 64 * 1024 * 1024, timeoutCheckIntervalMs: 50 } }, false, (server) =>
      server.server.on('connection', (socket: Socket) => serverSide.push(socket)),
    );
    const client = rawClient(port);
    client.socket.pause();
    // 16 answers of 256 KiB, well under the unsent bound: more than the socket takes, never read.
    client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1_000));
    try {
      await waitFor(() => serverSide.length === 1 && serverSide[0]!.destroyed, 5_000, 'non-reading pipelining client closed');
    } finally {
      client.socket.destroy();
    }
  });

  it('a client leaving more answer bytes unread than the bound is disconnected, long before the idle timeout', async () => {
    const serverSide: Socket[] = [];
    const { port } = await listening({ limits: { maxUnsentBytes: 1024 * 1024, maxPipelinedRequests: 1_000 } }, false, (server) =>
      server.server.on('connection', (socket: Socket) => serverSide.push(socket)),
    );
    const client = rawClient(port);
    client.socket.pause();
    // 40 answers of 256 KiB: 10 MiB the client never reads.
    client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(40));
    try {
      await waitFor(() => serverSide.length === 1 && serverSide[0]!.destroyed, 5_000, 'non-reading client disconnected');
    } finally {
      client.socket.destroy();
    }
  });

  it('many clients each within the unsent bound, none reading, are closed once together they pass the total, the largest first', async () => {
    const serverSide: Socket[] = [];
    const { url, port } = await listening(
      { limits: { maxUnsentBytes: 64 * 1024 * 1024, maxTotalUnsentBytes: 8 * 1024 * 1024, maxPipelinedRequests: 1_000, timeoutCheckIntervalMs: 50 } },
      false,
      (server) => server.server.on('connection', (socket: Socket) => serverSide.push(socket)),
    );
    // Six clients leaving 10 MiB each unread: each under its own bound, 60 MiB together.
    const clients = Array.from({ length: 6 }, () => rawClient(port));
    await waitFor(() => clients.every((c) => c.connected), 5_000, 'all connected');
    for (const c of clients) {
      c.socket.pause();
      c.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(40));
    }
    try {
      await waitFor(() => serverSide.filter((s) => s.destroyed).length >= 5, 5_000, 'largest holders closed');
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  });
});

describe('bodies being received, all connections together', () => {
  const MiB = 1024 * 1024;

  it('large slow bodies cannot take the total past the budget: the one that would gets 503 OVERLOADED, and once they end requests are served again', async () => {
    const { url, port, server } = await listening({ limits: { maxReceivingBodyBytes: 8 * MiB } });
    const guard = connectionGuardOf(server.server)!;
    let highest = 0;
    const watch = setInterval(() => (highest = Math.max(highest, guard.receivingBodyBytes())), 5);
    // Each declares 3 MiB and sends a little: two fit in 8 MiB, the others do not.
    const clients = Array.from({ length: 6 }, () => rawClient(port));
    for (const c of clients) c.socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${3 * MiB}\r\n\r\n[1`);
    try {
      await waitFor(() => clients.filter((c) => c.closed).length === 4, 5_000, 'bodies past the budget refused');
      expect(guard.receivingBodyBytes()).toBe(6 * MiB);
      for (const c of clients.filter((c) => c.closed)) {
        const answer = parseRawAnswer(c.received);
        expect(answer).toMatchObject({ status: 503, body: { code: 'OVERLOADED', error: expect.any(String) } });
        expect(c.received).toMatch(/Retry-After: \d+/i);
      }
      // Still full: a small body is refused too, /health (no body) is answered.
      const small = await fetch(`${url}/echo`, { method: 'POST', body: '[1]'.padEnd(3 * MiB, ' ') });
      expect(small.status).toBe(503);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
    // Aborted bodies give their share back: nothing leaks.
    await waitFor(() => guard.receivingBodyBytes() === 0, 5_000, 'budget given back');
    clearInterval(watch);
    expect(highest).toBeLessThanOrEqual(8 * MiB);
    const again = await fetch(`${url}/echo`, { method: 'POST', body: '[1,2]' });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: [1, 2] });
    expect(guard.receivingBodyBytes()).toBe(0);
  });

  it('a chunked body is counted as it arrives and refused once it would pass the budget', async () => {
    const { port, server } = await listening({ limits: { maxReceivingBodyBytes: 64 * 1024 } });
    const guard = connectionGuardOf(server.server)!;
    const client = rawClient(port);
    client.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = ' '.repeat(16 * 1024);
    for (let i = 0; i < 8; i++) client.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    await waitFor(() => client.closed, 5_000, 'chunked body refused');
    expect(parseRawAnswer(client.received)).toMatchObject({ status: 503, body: { code: 'OVERLOADED' } });
    await waitFor(() => guard.receivingBodyBytes() === 0, 5_000, 'budget given back');
    const again = rawClient(port);
    again.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\n[3]\r\n0\r\n\r\n');
    await waitFor(() => again.closed, 5_000, 'small chunked body answered');
    expect(parseRawAnswer(again.received)).toMatchObject({ status: 200, body: { received: [3] } });
    expect(guard.receivingBodyBytes()).toBe(0);
  });
});
