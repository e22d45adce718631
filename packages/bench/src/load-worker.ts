import { Pool } from 'undici';

/** One load run, played by a separate process so that it does not share the server's CPU time slices. */
export interface LoadJob {
  url: string;
  path: string;
  /** One till per entry: its serial and the two articles of its boutique. */
  tills: Array<{ serial: string; articles: [number, number] }>;
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
}

const REUSSIES = /"reussies":(\d+)/;

/** Each till posts batches of new, valid sales of 2 lines, one request at a time, like a real till. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  const pool = new Pool(job.url, { connections: job.tills.length, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  let sales = 0;
  let failedSales = 0;
  let failedRequests = 0;
  const start = performance.now();
  const end = start + job.durationMs;

  await Promise.all(
    job.tills.map(async (till, t) => {
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
        const res = await pool.request({
          method: 'POST',
          path: job.path,
          headers: { 'content-type': 'application/json', 'x-device-serial': till.serial },
          body,
        });
        const answer = await res.body.text();
        latencies.push(performance.now() - sent);
        const created = Number(REUSSIES.exec(answer)?.[1] ?? 0);
        if (res.statusCode >= 300) failedRequests++;
        sales += created;
        failedSales += job.batchSize - created;
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, sales, failedSales, failedRequests, elapsedMs, latenciesMs: latencies };
}

process.once('message', (job: LoadJob) => {
  runLoad(job)
    .then((result) => process.send!(result, () => process.exit(0)))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
});
