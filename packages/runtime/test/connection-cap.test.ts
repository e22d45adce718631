import { describe, expect, it } from 'vitest';
import { listening, rawClient, waitFor } from './http-test-server.js';

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
