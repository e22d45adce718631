import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { listening, waitFor } from './http-test-server.js';

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
