import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { probeDaemon } from '../src/daemon-probe.js';

let server: Server | undefined;
afterEach(() => server?.close());

async function listening(status: number, body: unknown): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('is the relay running? ask it', () => {
  it('no address recorded: stopped', async () => {
    expect(await probeDaemon(null, 'abc123')).toEqual({ running: false, url: null, reason: 'arrêté' });
  });

  it('nothing answers at the recorded address: stopped', async () => {
    const url = await listening(200, {});
    server!.close();
    expect(await probeDaemon(url, 'abc123')).toMatchObject({ running: false, reason: expect.stringContaining('rien ne répond') });
  });

  it('the relay of this file answers: running, with its pid', async () => {
    const url = await listening(200, { relais_id: 'abc123', pid: 77, demarre_le: '2025-10-01T08:00:00.000Z' });
    expect(await probeDaemon(url, 'abc123')).toEqual({ running: true, url, identity: { relais_id: 'abc123', pid: 77, demarre_le: '2025-10-01T08:00:00.000Z' } });
  });

  it('another relay, or another program, on that port is not this relay', async () => {
    const url = await listening(200, { relais_id: 'zzz999', pid: 77, demarre_le: '' });
    expect(await probeDaemon(url, 'abc123')).toMatchObject({ running: false, reason: expect.stringContaining('un autre relais') });
    server!.close();
    const web = await listening(404, { error: 'nope' });
    expect(await probeDaemon(web, 'abc123')).toMatchObject({ running: false, reason: expect.stringContaining('autre chose') });
  });
});
