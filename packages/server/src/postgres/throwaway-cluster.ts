import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster for the tests (issue 13 point 4): never a mock. initdb in a fresh
 * temporary folder, started on a free port of 127.0.0.1 with its socket in that folder, stopped
 * and removed by `stop`. fsync stays on: durability is part of what the tests and benches measure.
 */

/** initdb and pg_ctl refuse to run as root: as root they run as this user. */
const CLUSTER_USER = 'postgres';
/** The superuser's password in the test cluster (reachable from 127.0.0.1 only, removed after). */
export const TEST_PASSWORD = 'vs-test-motdepasse';
/** The database every cluster starts with; tests make their own from it as a template. */
export const TEST_DATABASE = 'ventesync_test';
/** pg_ctl waits this long for the server to take connections (a busy 2-core machine is slow). */
const START_WAIT_SECONDS = 60;

export interface PgCluster {
  /** postgres://postgres:…@127.0.0.1:port/ventesync_test */
  url: string;
  port: number;
  /** The temporary folder holding the data, the socket and the log; removed by `stop`. */
  folder: string;
  /** A URL to another database of this cluster. */
  urlOf(database: string): string;
  /** A fresh empty database (CREATE DATABASE … TEMPLATE template0): its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (fast shutdown) and removes its folder. Again is harmless. */
  stop(): Promise<void>;
  /** pg_ctl stop then start on the same port and folder: "the DBA restarted PostgreSQL". */
  restart(): void;
  /** pg_ctl stop (fast): the database is away until `resume`. */
  pause(): void;
  resume(): void;
}

function binDirs(): string[] {
  const dirs: string[] = [];
  const config = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (config.status === 0 && config.stdout.trim() !== '') dirs.push(config.stdout.trim());
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    // Newest version first.
    for (const version of readdirSync(debian).sort((a, b) => Number(b) - Number(a))) dirs.push(join(debian, version, 'bin'));
  }
  return dirs;
}

/** The folder holding initdb and pg_ctl, or null. */
export function pgBinDir(): string | null {
  return binDirs().find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) ?? null;
}

export function pgAvailable(): boolean {
  return pgBinDir() !== null;
}

/**
 * For a PostgreSQL test file: whether to run its suite. On a developer machine without
 * PostgreSQL it is skipped, saying so; in CI (CI=true) a missing PostgreSQL is a failure, never
 * a silent skip.
 */
export function pgSuiteEnabled(available = pgAvailable(), env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = console.warn): boolean {
  if (available) return true;
  if (env.CI === 'true') {
    throw new Error('PostgreSQL introuvable (ni pg_config --bindir ni /usr/lib/postgresql/*/bin) alors que CI=true : la suite PostgreSQL doit tourner en CI');
  }
  warn('PostgreSQL absent : suite PostgreSQL sautée (installez postgresql pour la lancer)');
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function run(bin: string, args: string[]): void {
  const [command, fullArgs] = isRoot() ? ['runuser', ['-u', CLUSTER_USER, '--', bin, ...args]] : [bin, args];
  try {
    execFileSync(command, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin} ${args[0] ?? ''} a échoué : ${e.stderr || e.stdout || e.message}`);
  }
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * Clusters not stopped yet. A test process that ends without its afterAll (vitest ends a
 * worker with SIGTERM, a test crashes) still stops them: no postgres left running, no folder
 * left behind.
 */
const leftRunning = new Set<() => void>();
let cleanupInstalled = false;

function stopLeftRunning(): void {
  for (const stop of [...leftRunning]) stop();
  leftRunning.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', stopLeftRunning);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stopLeftRunning();
      // Then as the signal would have done without this listener.
      process.kill(process.pid, signal);
    });
  }
}

export async function startPgCluster(): Promise<PgCluster> {
  installCleanup();
  const bin = pgBinDir();
  if (!bin) throw new Error('PostgreSQL introuvable : pg_config --bindir ou /usr/lib/postgresql/*/bin');
  const root = mkdtempSync(join(tmpdir(), 'ventesync-pg-'));
  const data = join(root, 'data');
  const socketDir = join(root, 'socket');
  const pwFile = join(root, 'pw');
  mkdirSync(socketDir);
  writeFileSync(pwFile, `${TEST_PASSWORD}\n`);
  if (isRoot()) {
    const { uid, gid } = userIds(CLUSTER_USER);
    for (const path of [root, socketDir, pwFile]) chownSync(path, uid, gid);
  }
  chmodSync(root, 0o700);
  const port = await freePort();
  // scram-sha-256 over TCP, so that a wrong password is refused as in production.
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--pwfile', pwFile, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--locale=C', '--no-instructions']);
  rmSync(pwFile);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${socketDir} -c fsync=on -c max_connections=100`;
  const start = () => run(join(bin, 'pg_ctl'), ['start', '-D', data, '-w', '-t', String(START_WAIT_SECONDS), '-s', '-l', join(root, 'log'), '-o', options]);
  const stopServer = () => run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w', '-s']);
  start();

  const urlOf = (database: string) => `postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${port}/${database}`;
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: urlOf('postgres') });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  let counter = 0;
  const createDatabase = async (name = `vs_${process.pid}_${++counter}`): Promise<string> => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`nom de base de test invalide : ${name}`);
    await admin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE template0`));
    return urlOf(name);
  };
  await createDatabase(TEST_DATABASE);

  let stopped = false;
  const onExit = () => {
    if (stopped) return;
    stopped = true;
    try {
      run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w', '-s']);
    } catch {
      // already stopped
    }
    rmSync(root, { recursive: true, force: true });
  };
  leftRunning.add(onExit);
  return {
    url: urlOf(TEST_DATABASE),
    port,
    folder: root,
    urlOf,
    createDatabase,
    restart() {
      stopServer();
      start();
    },
    pause: stopServer,
    resume: start,
    async stop() {
      if (stopped) return;
      stopped = true;
      leftRunning.delete(onExit);
      try {
        stopServer();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
