import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';

describe('whether the PostgreSQL suite runs', () => {
  it('runs wherever PostgreSQL is installed', () => {
    expect(pgSuiteEnabled(true, {})).toBe(true);
  });

  it('on a developer machine without PostgreSQL: skipped, saying so', () => {
    const said: string[] = [];
    expect(pgSuiteEnabled(false, {}, (message) => said.push(message))).toBe(false);
    expect(said).toEqual(['PostgreSQL absent : suite PostgreSQL sautée (installez postgresql pour la lancer)']);
  });

  it('in CI without PostgreSQL: a failure, never a silent skip', () => {
    expect(() => pgSuiteEnabled(false, { CI: 'true' })).toThrow(/alors que CI=true : la suite PostgreSQL doit tourner en CI/);
  });
});

describe.skipIf(!pgSuiteEnabled())('the throwaway test cluster', () => {
  it('listens on 127.0.0.1 only, with fsync on and a password required; stop removes its folder', async () => {
    const cluster = await startPgCluster();
    try {
      const client = new pg.Client({ connectionString: cluster.url });
      await client.connect();
      try {
        const settings = await client.query<{ name: string; setting: string }>(
          "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'listen_addresses', 'synchronous_commit') ORDER BY name",
        );
        expect(settings.rows).toEqual([
          { name: 'fsync', setting: 'on' },
          { name: 'listen_addresses', setting: '127.0.0.1' },
          { name: 'synchronous_commit', setting: 'on' },
        ]);
      } finally {
        await client.end();
      }
      const wrong = new pg.Client({ connectionString: cluster.url.replace(/:[^:@/]+@/, ':faux@') });
      await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' });
      const other = Object.values(networkInterfaces())
        .flat()
        .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
      if (other) {
        const refused = await new Promise<boolean>((resolve) => {
          const socket = createConnection({ host: other, port: cluster.port });
          socket.once('connect', () => (socket.destroy(), resolve(false)));
          socket.once('error', () => resolve(true));
        });
        expect(refused).toBe(true);
      }
    } finally {
      await cluster.stop();
    }
    expect(existsSync(cluster.folder)).toBe(false);
  });
});
