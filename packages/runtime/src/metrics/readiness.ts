import type { FastifyInstance } from 'fastify';
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { storageFailureOf } from '../http/error-handler.js';

export const READY_PATH = '/ready';

export type CheckStatus = 'pass' | 'warn' | 'fail';
/** One check of `/ready`: its verdict, and for a person what it saw (French). */
export interface Check {
  status: CheckStatus;
  message: string;
  [detail: string]: unknown;
}

export interface Readiness {
  status: CheckStatus;
  checks: Record<string, Check>;
  version: string;
  uptime_s: number;
}

/** Below this much free space on the database's disk, `/ready` warns: time to make room. */
export const LOW_DISK_WARN_BYTES = 1024 * 1024 * 1024;
/** Below this, the disk is as good as full: `/ready` fails (as `/health` does on the server). */
export const LOW_DISK_FAIL_BYTES = 1024 * 1024;
/** A real write is tried at most this often, whatever the rate `/ready` is asked at. */
export const READY_WRITE_PROBE_INTERVAL_MS = 5_000;

const RANK: Record<CheckStatus, number> = { pass: 0, warn: 1, fail: 2 };

export function worstOf(checks: Record<string, Check>): CheckStatus {
  let worst: CheckStatus = 'pass';
  for (const check of Object.values(checks)) if (RANK[check.status] > RANK[worst]) worst = check.status;
  return worst;
}

export const formatBytes = (bytes: number) =>
  bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} Gio` : bytes >= 1024 ** 2 ? `${(bytes / 1024 ** 2).toFixed(1)} Mio` : `${bytes} octets`;

/** The free space of the disk holding `file` (one statfs): warn, then fail, as it runs out. */
export function diskSpaceCheck(file: string, warnBelowBytes: number = LOW_DISK_WARN_BYTES): Check {
  if (file === ':memory:' || file === '') return { status: 'pass', message: 'base en mémoire : pas de disque' };
  let free: number;
  try {
    const stats = statfsSync(dirname(file));
    free = stats.bavail * stats.bsize;
  } catch (error) {
    return { status: 'fail', message: `disque illisible (${String((error as { code?: unknown }).code ?? error)})` };
  }
  const seuil = formatBytes(warnBelowBytes);
  if (free < LOW_DISK_FAIL_BYTES) return { status: 'fail', message: `disque plein : ${formatBytes(free)} libres`, free_bytes: free };
  if (free < warnBelowBytes) {
    return { status: 'warn', message: `peu de place : ${formatBytes(free)} libres (alerte sous ${seuil})`, free_bytes: free };
  }
  return { status: 'pass', message: `${formatBytes(free)} libres`, free_bytes: free };
}

const READ_ONLY_CODES = new Set(['SQLITE_READONLY', 'EROFS', 'EACCES', 'EPERM']);

/**
 * A real write tried now (`probe` throws as the write would): `pass`; a lock held by another
 * program for longer than the busy timeout: `warn` (it passes); anything else: `fail`, said
 * as a person would need it (full disk, read-only file, failing disk).
 */
export function writeProbeCheck(probe: () => void): Check {
  try {
    probe();
    return { status: 'pass', message: 'écriture possible' };
  } catch (error) {
    return writeFailureCheck(error);
  }
}

/** What a failed write probe's error means, for a probe run elsewhere (an asynchronous database). */
export function writeFailureCheck(error: unknown): Check {
  const code = String((error as { code?: unknown } | null)?.code ?? 'ERREUR');
  const failure = storageFailureOf(error);
  if (failure === 'busy') return { status: 'warn', message: `base occupée par une autre commande (${code}) : écriture non vérifiée`, code };
  if (failure === 'full') return { status: 'fail', message: `écriture impossible : disque plein (${code})`, code };
  if (READ_ONLY_CODES.has(code) || code.startsWith('SQLITE_READONLY_')) {
    return { status: 'fail', message: `écriture impossible : base en lecture seule (${code})`, code };
  }
  if (failure === 'io') return { status: 'fail', message: `écriture impossible : erreur d'entrée-sortie, disque défaillant ? (${code})`, code };
  return { status: 'fail', message: `écriture impossible (${code})`, code };
}

/**
 * Runs `probe` (a real write) at most every `intervalMs` and keeps its verdict in between:
 * `/ready` asked a hundred times a second writes once per interval, and holds one result.
 */
export function cachedProbe(probe: () => Check, now: () => number, intervalMs: number = READY_WRITE_PROBE_INTERVAL_MS): () => Check {
  let last: { at: number; check: Check } | null = null;
  return () => {
    const t = now();
    if (last === null || t - last.at >= intervalMs || t < last.at) last = { at: t, check: probe() };
    return last.check;
  };
}

/**
 * `GET /ready`: `{status, checks, version, uptime_s}`, 503 when a check fails (a load balancer
 * or an orchestrator stops sending work), 200 otherwise, `warn` included. `/health` stays the
 * cheap liveness answer the tills' guide describes.
 */
export function registerReadyRoute(
  app: FastifyInstance,
  options: { version: string; startedAt: number; now: () => number; checks: () => Record<string, Check> | Promise<Record<string, Check>> },
): void {
  app.get(READY_PATH, { logLevel: 'warn' }, async (_request, reply) => {
    const checks = await options.checks();
    const body: Readiness = {
      status: worstOf(checks),
      checks,
      version: options.version,
      uptime_s: Math.max(0, Math.floor((options.now() - options.startedAt) / 1000)),
    };
    return reply.code(body.status === 'fail' ? 503 : 200).send(body);
  });
}
