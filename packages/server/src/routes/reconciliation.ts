import {
  errorBody,
  formatMoney,
  MAX_RECONCILIATION_DETAIL,
  RECONCILIATION_PATH,
  ReconciliationQuerySchema,
  type ReconciliationResponse,
  statusOf,
} from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { ReconciliationDay } from '../reconciliation-reader.js';
import type { ReconciliationStorage } from '../storage/storage.js';

/**
 * A day not computed yet costs one synchronous pass over its sales (about 200 ms for 100,000):
 * such days are computed one at a time, each in a turn of the event loop of its own, so a sync
 * request waits behind one at most; beyond this many waiting, 503 OVERLOADED with Retry-After.
 * (On PostgreSQL the pass runs in the database: the same bound keeps a burst of relays from
 * holding every connection of the pool.)
 */
export const MAX_RECONCILIATIONS_WAITING = 4;
export const RECONCILIATION_RETRY_AFTER_SECONDS = 2;

/** Runs the jobs given one after the other, each from its own setImmediate. */
function createSerialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  return {
    get waiting() {
      return waiting;
    },
    run<T>(job: () => Promise<T>): Promise<T> {
      waiting++;
      const result = tail.then(
        () =>
          new Promise<T>((resolve, reject) =>
            setImmediate(() => {
              waiting--;
              try {
                resolve(job());
              } catch (error) {
                reject(error);
              }
            }),
          ),
      );
      tail = result.catch(() => undefined);
      return result;
    },
  };
}

/**
 * CONTRACT §7: the calling till's sales of one local day of its boutique, as a count, a total
 * and a fingerprint; with `detail=1`, the sales themselves, a bounded page at a time.
 */
export function reconciliationRoutes(app: FastifyInstance, reader: ReconciliationStorage): void {
  const queue = createSerialQueue();
  const computing = new Map<string, Promise<ReconciliationDay>>();
  app.get(RECONCILIATION_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const query = ReconciliationQuerySchema.safeParse(request.query);
    if (!query.success) {
      // Each bad parameter named with its rule; the values are not echoed (they can be anything).
      const problems = [...new Map(query.error.issues.map((i) => [i.path.join('.'), i.message])).entries()]
        .map(([name, rule]) => `${name} : ${rule}`)
        .join(' ; ');
      return reply.code(statusOf('INVALID_QUERY')).send(errorBody('INVALID_QUERY', `Paramètre invalide : ${problems}`));
    }
    const { jour, detail, apres } = query.data;
    // Both reads asked in one turn: on SQLite no write can come between them, so the page and
    // the fingerprint describe the same sales (storage.ts asks the same of every backend).
    const read = async () => {
      const [day, page] = await Promise.all([
        reader.day(terminal.boutique_id, terminal.serial, jour),
        detail === '1' ? reader.page(terminal.boutique_id, terminal.serial, jour, apres ?? null, MAX_RECONCILIATION_DETAIL) : null,
      ]);
      return { day, page };
    };
    type Answer = Awaited<ReturnType<typeof read>>;
    // The same day asked again while it waits to be computed shares that computation (a page
    // needs its own, read in the same turn as its day).
    const key = JSON.stringify([terminal.boutique_id, terminal.serial, jour]);
    const hit = await reader.cached(terminal.boutique_id, terminal.serial, jour);
    // Looked up after the await: a request that started the day's computation meanwhile is shared.
    const shared = detail === '1' ? undefined : computing.get(key);
    let answer: Answer;
    if (hit) {
      answer = await read();
    } else if (shared) {
      answer = { day: await shared, page: null };
    } else if (queue.waiting >= MAX_RECONCILIATIONS_WAITING) {
      return reply
        .code(statusOf('OVERLOADED'))
        .header('retry-after', String(RECONCILIATION_RETRY_AFTER_SECONDS))
        .send(errorBody('OVERLOADED', 'Serveur occupé : trop de rapprochements en cours de calcul, réessayez dans un instant'));
    } else {
      const job = queue.run(read);
      if (detail !== '1') {
        const dayOf = job.then((a) => a.day);
        dayOf.catch(() => undefined); // its failure is answered by the request that started it
        computing.set(key, dayOf);
        void job.then(
          () => computing.delete(key),
          () => computing.delete(key),
        );
      }
      answer = await job;
    }
    const { day, page } = answer;
    const body: ReconciliationResponse = {
      success: true,
      boutique_id: terminal.boutique_id,
      terminal: terminal.nom,
      jour,
      fuseau: day.fuseau,
      nombre_ventes: day.nombre_ventes,
      montant_total: formatMoney(day.montant_total),
      empreinte: day.empreinte,
      ...(page ? { ventes: page.ventes, suite: page.suite } : {}),
    };
    return body;
  });
}
