import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DEFAULT_HTTP_LIMITS } from '@ventesync/runtime/http';
import {
  connectErrorOf,
  databaseUnavailable,
  isDatabaseGone,
  openPgPool,
  parsePgUrl,
  PG_CONNECT_TIMEOUT_MS,
  PG_QUERY_TIMEOUT_MS,
  PgConnectError,
  withClient,
  withRetriedTransaction,
  withTransaction,
} from '../src/postgres/pg-connect.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster, TEST_PASSWORD } from '../src/postgres/throwaway-cluster.js';

describe('a PostgreSQL URL is checked before anything is tried', () => {
  it('names the host, port and base, and never shows the password', () => {
    const parsed = parsePgUrl('postgres://vente:s3cr%C3%A8t@db.example:6543/ventes');
    expect(parsed).toMatchObject({ ok: true, target: { host: 'db.example', port: 6543, user: 'vente', database: 'ventes' } });
    if (!parsed.ok) return;
    expect(parsed.target.where).toBe('postgres://vente@db.example:6543/ventes');
    expect(parsed.target.where).not.toContain('s3cr');
  });

  it('takes the default port 5432 and postgresql:// too', () => {
    expect(parsePgUrl('postgresql://u@h/b')).toMatchObject({ ok: true, target: { port: 5432, where: 'postgres://u@h:5432/b' } });
  });

  it.each([
    ['no database', 'postgres://u@h:5432/', /nom de base absent/],
    ['no host', 'postgres:///base', /pas d'hôte|illisible/],
    ['a port out of range', 'postgres://u@h:70000/b', /illisible|port/],
    ['another scheme', 'mysql://u@h/b', /postgres:\/\//],
  ])('refuses %s with a French message saying what is expected', (_what, url, why) => {
    const parsed = parsePgUrl(url);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.erreur).toMatch(why);
    expect(parsed.erreur).toContain('attendu postgres://utilisateur:motdepasse@hôte:port/base');
  });

  it('an unknown host name and a connection timeout each get their own message, naming host:port', () => {
    const target = (parsePgUrl('postgres://u:p@nulle-part.invalid:5432/b') as { ok: true; target: never }).target;
    expect(connectErrorOf(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), target).message).toBe(
      "PostgreSQL injoignable à nulle-part.invalid:5432 : nom d'hôte « nulle-part.invalid » inconnu (vérifiez l'URL de la base)",
    );
    expect(connectErrorOf(new Error('Connection terminated due to connection timeout'), target)).toMatchObject({
      code: 'DATABASE_UNREACHABLE',
      message: expect.stringMatching(/^PostgreSQL injoignable à nulle-part.invalid:5432 : pas de réponse en 5 s/),
    });
  });

  it('tells "database gone" errors (restart, killed connection) from the request’s own errors', () => {
    expect(isDatabaseGone(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isDatabaseGone(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseGone(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isDatabaseGone(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isDatabaseGone(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDatabaseGone(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(false);
  });

  it('a request meeting a silent database is answered 503 before its HTTP connection is closed for idleness', () => {
    // Queued behind its boutique's stalled transaction (given up after the query timeout), then
    // its own: a stale connection (the query timeout again) or a new one (the connect timeout).
    const worst = PG_QUERY_TIMEOUT_MS + Math.max(PG_QUERY_TIMEOUT_MS, PG_CONNECT_TIMEOUT_MS);
    expect(worst).toBeLessThan(DEFAULT_HTTP_LIMITS.socketIdleTimeoutMs);
  });

  it('a database gone becomes a 503 DATABASE_FAILING with Retry-After, naming host:port and never the password', () => {
    const failure = databaseUnavailable(new Error('Connection terminated'), 'postgres://u@db:5432/ventes');
    expect(failure).toMatchObject({ code: 'STORAGE_UNAVAILABLE', ventesyncCode: 'DATABASE_FAILING', retryAfterSeconds: 2 });
    expect(failure.message).toBe(
      "Base de données PostgreSQL (db:5432) momentanément injoignable : rien de cette requête n'a été enregistré. Réessayez dans 2 s.",
    );
  });
});

/**
 * A TCP relay to PostgreSQL whose link can go silent: bytes dropped both ways while the sockets
 * stay open (a cut cable, a frozen firewall: no RST, nothing for either side to notice).
 */
async function silentLink(targetPort: number) {
  // 'answers': only PostgreSQL's answers are lost (what it receives, it still does).
  let silent: false | 'both' | 'answers' = false;
  const pairs: Socket[][] = [];
  const server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    pairs.push([inbound, outbound]);
    for (const socket of [inbound, outbound]) socket.on('error', () => {});
    inbound.on('data', (bytes) => (silent === 'both' ? undefined : outbound.write(bytes)));
    outbound.on('data', (bytes) => (silent ? undefined : inbound.write(bytes)));
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  const cutAll = () => {
    for (const pair of pairs.splice(0)) for (const socket of pair) socket.destroy();
  };
  return {
    port,
    goSilent: (what: 'both' | 'answers' = 'both') => {
      silent = what;
    },
    /** The link back; the connections that lost bytes meanwhile are broken for good (as TCP would end them). */
    restore: () => {
      silent = false;
      cutAll();
    },
    close: () => {
      cutAll();
      server.close();
    },
  };
}

describe.skipIf(!pgSuiteEnabled())('connecting to a real PostgreSQL', () => {
  let cluster: PgCluster;
  let silent: Server | null = null;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    silent?.close();
    await cluster?.stop();
  });

  const refusalOf = (url: string) => openPgPool(url).then(
    () => {
      throw new Error('connexion acceptée');
    },
    (error: unknown) => error as PgConnectError,
  );

  it('a wrong password is said so, naming host:port and the user, without the password', async () => {
    const refusal = await refusalOf(`postgres://postgres:mauvais@127.0.0.1:${cluster.port}/ventesync_test`);
    expect(refusal).toBeInstanceOf(PgConnectError);
    expect(refusal.code).toBe('DATABASE_AUTH_FAILED');
    expect(refusal.message).toBe(`PostgreSQL à 127.0.0.1:${cluster.port} refuse le mot de passe de l'utilisateur postgres : vérifiez l'URL de la base`);
    expect(refusal.stack).not.toContain('mauvais');
  });

  it('a URL without password, where one is asked: said so, with how to give it (URL or PGPASSWORD)', async () => {
    const saved = process.env.PGPASSWORD;
    delete process.env.PGPASSWORD;
    try {
      const refusal = await refusalOf(`postgres://postgres@127.0.0.1:${cluster.port}/ventesync_test`);
      expect(refusal.code).toBe('DATABASE_AUTH_FAILED');
      expect(refusal.message).toMatch(new RegExp(`^PostgreSQL à 127\\.0\\.0\\.1:${cluster.port} demande un mot de passe pour l'utilisateur postgres : .*PGPASSWORD$`));
    } finally {
      if (saved !== undefined) process.env.PGPASSWORD = saved;
    }
  });

  it('sslmode=require against a server without SSL: said in French', async () => {
    const refusal = await refusalOf(`postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${cluster.port}/ventesync_test?sslmode=require`);
    expect(refusal.message).toBe(`PostgreSQL à 127.0.0.1:${cluster.port} n'accepte pas de connexion chiffrée (SSL) : retirez sslmode de l'URL, ou activez ssl sur ce serveur`);
  });

  it('a database that does not exist is named, with how to create it', async () => {
    const refusal = await refusalOf(cluster.urlOf('absente'));
    expect(refusal.code).toBe('DATABASE_NOT_FOUND');
    expect(refusal.message).toBe(
      `La base « absente » n'existe pas sur PostgreSQL à 127.0.0.1:${cluster.port} : créez-la (createdb absente) ou corrigez l'URL de la base`,
    );
  });

  it('nothing listening on the port: "injoignable", naming host:port', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    await new Promise((resolve) => server.close(resolve));
    const refusal = await refusalOf(`postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${port}/ventesync_test`);
    expect(refusal.code).toBe('DATABASE_UNREACHABLE');
    expect(refusal.message).toBe(
      `PostgreSQL injoignable à 127.0.0.1:${port} : connexion refusée (PostgreSQL est-il démarré et écoute-t-il sur ce port ?)`,
    );
  });

  it('a port that accepts but never answers: "injoignable" after the connect timeout', async () => {
    const held: import('node:net').Socket[] = [];
    silent = createServer((socket) => held.push(socket));
    const port = await new Promise<number>((resolve) => silent!.listen(0, '127.0.0.1', () => resolve((silent!.address() as { port: number }).port)));
    const refusal = await refusalOf(`postgres://postgres:x@127.0.0.1:${port}/b`);
    for (const socket of held) socket.destroy();
    expect(refusal.code).toBe('DATABASE_UNREACHABLE');
    expect(refusal.message).toMatch(new RegExp(`^PostgreSQL injoignable à 127.0.0.1:${port} : pas de réponse en 5 s`));
  });

  it('the pool lives through PostgreSQL restarting: idle connections dropped quietly, then served again', async () => {
    const url = await cluster.createDatabase();
    const idleErrors: Array<{ code: string | undefined; message: string }> = [];
    const { pool, where } = await openPgPool(url, { onIdleError: (error) => idleErrors.push(error) });
    try {
      // Two idle connections in the pool when the server goes away.
      await Promise.all([withClient(pool, where, (c) => c.query('SELECT 1')), withClient(pool, where, (c) => c.query('SELECT pg_sleep(0.05)'))]);
      expect(pool.idleCount).toBe(2);
      cluster.restart();
      const deadline = Date.now() + 10_000;
      while (idleErrors.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      // Heard (an unheard 'error' would crash the server), dropped, and said without the client (its password).
      expect(idleErrors).toEqual([
        { code: '57P01', message: 'terminating connection due to administrator command' },
        { code: '57P01', message: 'terminating connection due to administrator command' },
      ]);
      expect(pool.idleCount).toBe(0);
      const r = await withClient(pool, where, (c) => c.query<{ n: number }>('SELECT 1 AS n'));
      const answered = r.rows[0]!.n === 1;
      expect(answered).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('two transactions that deadlock: PostgreSQL picks one, it is run again whole, both end written', async () => {
    const url = await cluster.createDatabase();
    const { pool, where } = await openPgPool(url);
    try {
      await pool.query('CREATE TABLE compte (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
      await pool.query('INSERT INTO compte VALUES (1, 0), (2, 0)');
      let attempts = 0;
      let bothHoldFirst: () => void = () => {};
      const firstLocks = new Promise<void>((resolve) => {
        let held = 0;
        bothHoldFirst = () => (++held === 2 ? resolve() : undefined);
      });
      // Each locks its first row, waits for the other to hold its own, then asks for the other's.
      const crossing = (first: number, second: number) =>
        withRetriedTransaction(pool, where, async (client) => {
          attempts++;
          await client.query('UPDATE compte SET n = n + 1 WHERE id = $1', [first]);
          if (attempts <= 2) {
            bothHoldFirst();
            await firstLocks;
          }
          await client.query('UPDATE compte SET n = n + 1 WHERE id = $1', [second]);
        });
      await Promise.all([crossing(1, 2), crossing(2, 1)]);
      expect(attempts).toBe(3);
      expect((await pool.query('SELECT id, n FROM compte ORDER BY id')).rows).toEqual([
        { id: 1, n: 2 },
        { id: 2, n: 2 },
      ]);
    } finally {
      await pool.end();
    }
  });

  it('a network gone silent in the middle of a transaction: given up after the query timeout, answered 503, nothing kept, served again after', async () => {
    const url = await cluster.createDatabase();
    const link = await silentLink(cluster.port);
    const name = url.replace(/^.*\//, '');
    const { pool, where } = await openPgPool(`postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${link.port}/${name}`, { queryTimeoutMs: 1_000 });
    try {
      await pool.query('CREATE TABLE t (x INTEGER)');
      // Without a query timeout the second INSERT waited for an answer that never comes (until
      // the system gives up on the socket, a quarter of an hour later): the test timed out.
      const failure = await withTransaction(pool, where, async (client) => {
        await client.query('INSERT INTO t VALUES (1)');
        link.goSilent();
        await client.query('INSERT INTO t VALUES (2)');
      }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ ventesyncCode: 'DATABASE_FAILING', retryAfterSeconds: 2 });
      // While silent, a new connection is refused after the connect timeout: 503 too.
      await expect(withClient(pool, where, (c) => c.query('SELECT 1'))).rejects.toMatchObject({ ventesyncCode: 'DATABASE_FAILING' });
      link.restore();
      expect((await withClient(pool, where, (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM t'))).rows[0]!.n).toBe(0);
    } finally {
      await pool.end();
      link.close();
    }
  });

  it('the answer to COMMIT lost: 503 saying the record is not confirmed (never "nothing recorded"), and it was written', async () => {
    const url = await cluster.createDatabase();
    const link = await silentLink(cluster.port);
    const name = url.replace(/^.*\//, '');
    const { pool, where } = await openPgPool(`postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${link.port}/${name}`, { queryTimeoutMs: 1_000 });
    try {
      await pool.query('CREATE TABLE t (x INTEGER)');
      const failure = await withTransaction(pool, where, async (client) => {
        await client.query('INSERT INTO t VALUES (1)');
        // The COMMIT reaches PostgreSQL, its answer never comes back.
        link.goSilent('answers');
      }).then(
        () => new Error('validée sans erreur'),
        (error: unknown) => error as Error,
      );
      expect(failure).toMatchObject({ ventesyncCode: 'DATABASE_FAILING', retryAfterSeconds: 2 });
      expect(failure.message).toMatch(/enregistrement non confirmé.*doublon identique/);
      expect(failure.message).not.toMatch(/rien de cette requête/);
      link.restore();
      const deadline = Date.now() + 20_000;
      let rows = 0;
      while (rows === 0 && Date.now() < deadline) rows = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n;
      expect(rows).toBe(1);
    } finally {
      await pool.end();
      link.close();
    }
  });

  it('a connection killed before its COMMIT was sent: "nothing recorded", since nothing was', async () => {
    const url = await cluster.createDatabase();
    const { pool, where } = await openPgPool(url);
    try {
      await pool.query('CREATE TABLE t (x INTEGER)');
      const failure = await withTransaction(pool, where, async (client) => {
        await client.query('INSERT INTO t VALUES (1)');
        const ended = new Promise((resolve) => client.once('end', resolve));
        await pool.query('SELECT pg_terminate_backend($1)', [(client as unknown as { processID: number }).processID]);
        await ended;
      }).then(
        () => new Error('validée sans erreur'),
        (error: unknown) => error as Error,
      );
      expect(failure).toMatchObject({ ventesyncCode: 'DATABASE_FAILING' });
      expect(failure.message).toMatch(/rien de cette requête n'a été enregistré/);
      expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it.each([
    ['a query cancelled (statement_timeout, as pg_cancel_backend)', "SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)", /requête annulée/],
    ['a database gone read-only (a standby after a failover)', 'SET TRANSACTION READ ONLY; INSERT INTO t VALUES (2)', /lecture seule/],
  ])('%s: 503 to send again (never a 500), nothing kept, the connection still serving', async (_what, sql, why) => {
    const url = await cluster.createDatabase();
    const { pool, where } = await openPgPool(url, { max: 1 });
    try {
      await pool.query('CREATE TABLE t (x INTEGER)');
      const failure = await withTransaction(pool, where, async (client) => {
        await client.query('INSERT INTO t VALUES (1)');
        await client.query(sql);
      }).then(
        () => new Error('validée sans erreur'),
        (error: unknown) => error as Error,
      );
      expect(failure).toMatchObject({ ventesyncCode: 'DATABASE_FAILING', retryAfterSeconds: 2 });
      expect(failure.message).toMatch(why);
      const pid = await withClient(pool, where, async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      expect((await pool.query('SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM t')).rows[0]).toEqual({ n: 0, pid });
    } finally {
      await pool.end();
    }
  });

  it('a connection killed inside a transaction: the transaction is answered 503 and nothing of it is kept', async () => {
    const url = await cluster.createDatabase();
    const { pool, where } = await openPgPool(url);
    try {
      await pool.query('CREATE TABLE t (x INTEGER)');
      const failure = await withTransaction(pool, where, async (client) => {
        await client.query('INSERT INTO t VALUES (1)');
        await pool.query('SELECT pg_terminate_backend($1)', [(client as unknown as { processID: number }).processID]);
        await client.query('INSERT INTO t VALUES (2)');
      }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ ventesyncCode: 'DATABASE_FAILING' });
      expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
