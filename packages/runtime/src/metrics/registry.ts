import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/** Every name starts with this (Prometheus's naming guide: one prefix per application). */
export const METRIC_PREFIX = 'ventesync_';

/**
 * A registry of its own per app (never prom-client's global one: two apps in one process, as in
 * the tests, would share counters), with what any ventesync process says about itself:
 * `ventesync_build_info{version}` and its memory and start time, read at scrape time.
 * prom-client's default metrics are left out: they start an event-loop monitor per registry.
 */
export function createMetricsRegistry(version: string, startedAtMs: number = Date.now()): Registry {
  const registry = new Registry();
  new Gauge({
    name: `${METRIC_PREFIX}build_info`,
    help: 'Version du programme (valeur toujours 1)',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version }, 1);
  new Gauge({
    name: `${METRIC_PREFIX}process_start_time_seconds`,
    help: 'Démarrage du processus, secondes Unix',
    registers: [registry],
  }).set(startedAtMs / 1000);
  new Gauge({
    name: `${METRIC_PREFIX}process_resident_memory_bytes`,
    help: 'Mémoire résidente du processus (RSS), octets',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}process_heap_used_bytes`,
    help: 'Tas JavaScript utilisé, octets',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  return registry;
}
