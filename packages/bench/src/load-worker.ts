import { signatureHeader } from '@ventesync/shared';
import { Pool } from 'undici';

/** One load run, played by a separate process so that it does not share the server's CPU time slices. */
export interface LoadJob {
  /** One server, or several instances behind no balancer: till k posts to the k-th (round robin). */
  url: string | string[];
  path: string;
  /**
   * One till per entry: its serial, the two articles of its boutique and, for a till that has
   * one, its secret: then every request carries X-Signature (CONTRACT §6).
   */
  tills: Array<{ serial: string; articles: [number, number]; secret?: string }>;
  batchSize: number;
  durationMs: number;
  /** Stop each till after this many sales (for a fixed backlog) instead of after durationMs. */
  salesPerTill?: number;
  prefix: string;
}

export interface LoadResult {
  requests: number;
  sales: number;
  failedSales: number;
  failedRequests: number;
  elapsedMs: number;
  latenciesMs: number[];
  /** The first refused request's status and answer (cut short), to say why a run failed. */
  firstRefusal: string | null;
}

const REUSSIES = /"reussies":(\d+)/;

/** Each till posts batches of new, valid sales of 2 lines, one request at a time, like a real till. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  const urls = typeof job.url === 'string' ? [job.url] : job.url;
  const pools = urls.map((url) => new Pool(url, { connections: job.tills.length, keepAliveTimeout: 30_000 }));
  const latencies: number[] = [];
  let sales = 0;
  let failedSales = 0;
  let failedRequests = 0;
  let firstRefusal: string | null = null;
  const start = performance.now();
  const end = start + job.durationMs;

  await Promise.all(
    job.tills.map(async (till, t) => {
      const pool = pools[t % pools.length]!;
      const limit = job.salesPerTill ?? Number.POSITIVE_INFINITY;
      // The load process shares the machine with the server: it builds bodies from a template
      // and reads only the count it needs from the answer, so that its own CPU time stays small.
      const [a, b] = till.articles;
      const ventes = Array.from({ length: job.batchSize }, (_, i) => [
        `{"numero_facture":"${job.prefix}-${t}-`,
        `-${i}","mode_paiement":"${i % 3 === 0 ? 'MOBILE_MONEY' : 'CASH'}","paye":true,"lignes":[{"article_id":${a},"quantite":1,"prix_unitaire":"1500.00"},{"article_id":${b},"quantite":2}]}`,
      ]);
      for (let seq = 0; performance.now() < end && seq * job.batchSize < limit; seq++) {
        const body = `[${ventes.map(([head, tail]) => `${head}${seq}${tail}`).join(',')}]`;
        const sent = performance.now();
        const res = await pool.request({ method: 'POST', path: job.path, ...signed(till, job.path, body) });
        const answer = await res.body.text();
        latencies.push(performance.now() - sent);
        const created = Number(REUSSIES.exec(answer)?.[1] ?? 0);
        if (res.statusCode >= 300) {
          failedRequests++;
          firstRefusal ??= `${res.statusCode} ${answer.slice(0, 300)}`;
        }
        sales += created;
        failedSales += job.batchSize - created;
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  await Promise.all(pools.map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, sales, failedSales, failedRequests, elapsedMs, latenciesMs: latencies, firstRefusal };
}

/**
 * The headers and body of one request. A till with a secret signs the exact bytes it sends, at
 * the time it sends them (a fresh `t` each request). Its v1 is never reused: every body holds
 * new numero_facture values, so two requests of a till never sign the same message.
 */
function signed(till: LoadJob['tills'][number], path: string, body: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-device-serial': till.serial };
  if (till.secret === undefined) return { headers, body };
  const bytes = Buffer.from(body);
  headers['x-signature'] = signatureHeader(till.secret, Math.floor(Date.now() / 1000), 'POST', path, bytes);
  return { headers, body: bytes };
}

process.once('message', (job: LoadJob) => {
  runLoad(job)
    .then((result) => process.send!(result, () => process.exit(0)))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
});
