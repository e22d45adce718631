import { cachedProbe, type Check, diskSpaceCheck, LOW_DISK_WARN_BYTES, writeProbeCheck } from '@ventesync/runtime/metrics';
import { performance } from 'node:perf_hooks';
import { probeSqliteWrite } from '@ventesync/runtime/sqlite';
import type { Db } from './db/open-database.js';
import type { DiskReserve } from './disk-reserve.js';
import type { QueueSnapshot } from './relay-metrics.js';
import type { RelayStore } from './relay-store.js';
import { SERVER_BROKEN_KEY } from './server-reach.js';

function depuisOf(json: string): string | null {
  try {
    return (JSON.parse(json) as { depuis?: string }).depuis ?? null;
  } catch {
    return null;
  }
}

/**
 * A sale waiting longer than this makes `/ready` warn: the relay works, but the sales are not
 * reaching the server (a till's own retries are seconds; an outage of a quarter of an hour is
 * worth a look).
 */
export const BACKLOG_WARN_AGE_S = 15 * 60;

/**
 * A write that proves the relay's file takes writes: the room kept on its disk taken again
 * when it had been given back (disk-reserve.ts: fresh space, for real), then a page of
 * SQLite's own in a transaction rolled back (a read-only file or a full database fails here).
 */
function probeWrite(db: Db, reserve: DiskReserve | undefined): void {
  if (reserve && !reserve.ensure()) throw Object.assign(new Error('réserve de place impossible à reprendre'), { code: 'ENOSPC' });
  probeSqliteWrite(db);
}

/**
 * The checks of the relay's `/ready`: its file writable (the forwarder's own failures, then a
 * real write at most every few seconds), its disk's free space, the server reachable and the
 * backlog's age. The last two only warn: the relay is made to hold sales while the server is
 * away, and tills are still served.
 */
export function relayChecks(deps: {
  db: Db;
  store: RelayStore;
  queue: () => QueueSnapshot;
  writeTrouble?: () => { since: Date; message: string } | null;
  reserve?: DiskReserve;
  now: () => Date;
  monotonic?: () => number;
  lowDiskWarnBytes?: number;
  backlogWarnAgeS?: number;
}): () => Record<string, Check> {
  const { db, store, now } = deps;
  const probe = cachedProbe(() => writeProbeCheck(() => probeWrite(db, deps.reserve)), deps.monotonic ?? (() => performance.now()));
  const backlogWarnAgeS = deps.backlogWarnAgeS ?? BACKLOG_WARN_AGE_S;

  function database(): Check {
    const trouble = deps.writeTrouble?.();
    if (trouble) return { status: 'fail', message: `${trouble.message} (depuis ${trouble.since.toISOString()})` };
    return probe();
  }

  function serveur(): Check {
    const joignable = store.getEtat('serveur_joignable');
    const verifie = store.getEtat('serveur_verifie_le');
    const url = store.getEtat('serveur_url');
    // It answers but fails every sale (forwarder.ts): no more reachable for sales than when away.
    const panne = store.getEtat(SERVER_BROKEN_KEY);
    if (panne !== null) {
      return { status: 'warn', message: `serveur central en panne : il répond mais refuse toutes les ventes (depuis ${depuisOf(panne) ?? '?'}) : les ventes sont gardées`, url };
    }
    if (joignable === 'non') return { status: 'warn', message: `serveur central injoignable (dernier essai ${verifie ?? '?'}) : les ventes sont gardées`, url };
    if (joignable === null) return { status: 'pass', message: 'serveur central pas encore contacté', url };
    return { status: 'pass', message: `serveur central joignable (vérifié ${verifie ?? '?'})`, url };
  }

  function backlog(): Check {
    const q = deps.queue();
    const age = q.plus_ancienne === null ? 0 : Math.max(0, Math.floor((now().getTime() - Date.parse(q.plus_ancienne)) / 1000));
    const counts = { en_attente: q.en_attente + q.en_vol, rejetees: q.rejetee, plus_ancienne_s: age };
    if (age > backlogWarnAgeS) {
      return { status: 'warn', message: `${counts.en_attente} vente(s) en attente, la plus ancienne depuis ${Math.floor(age / 60)} min`, ...counts };
    }
    return { status: 'pass', message: `${counts.en_attente} vente(s) en attente`, ...counts };
  }

  return () => ({
    database: database(),
    disk: diskSpaceCheck(db.name, deps.lowDiskWarnBytes ?? LOW_DISK_WARN_BYTES),
    serveur: serveur(),
    backlog: backlog(),
  });
}
