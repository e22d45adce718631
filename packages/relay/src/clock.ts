import type { RelayStore } from './relay-store.js';

/** Beyond this gap between the relay's clock and the server's, staff are told (log and status). */
export const CLOCK_WARN_MS = 2 * 60_000;
/**
 * Below this, a measured gap is the measure's own error (the `Date` header has whole seconds,
 * plus the network's delay): no correction, nothing written.
 */
export const CLOCK_TOLERANCE_MS = 5_000;

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Follows the gap between this machine's clock and the server's, as measured on each answer
 * (upstream's `onClockOffset`). The gap is kept in `etat` (`decalage_horloge_ms`), where the
 * intake reads it to stamp `date_vente` on the server's time; beyond CLOCK_WARN_MS it is also
 * recorded for `status` (`horloge_decalee`) and said in the log.
 */
export function createClockWatch(store: RelayStore, logger: Logger, now: () => Date = () => new Date()) {
  let recorded = store.clockOffsetMs();
  let warned = Math.abs(recorded) > CLOCK_WARN_MS;

  return {
    observe(offsetMs: number): void {
      const offset = Math.abs(offsetMs) < CLOCK_TOLERANCE_MS ? 0 : Math.round(offsetMs);
      if (Math.abs(offset - recorded) < CLOCK_TOLERANCE_MS) return;
      const far = Math.abs(offset) > CLOCK_WARN_MS;
      try {
        store.setEtats({
          decalage_horloge_ms: String(offset),
          horloge_decalee: far ? JSON.stringify({ decalage_ms: offset, mesure_le: now().toISOString() }) : null,
        });
      } catch {
        return; // The file cannot be written (full disk): measured again on the next answer.
      }
      recorded = offset;
      const minutes = Math.round(Math.abs(offset) / 60_000);
      if (far) {
        logger.warn(
          { decalage_ms: offset },
          `L'horloge de cet ordinateur ${offset > 0 ? 'retarde' : 'avance'} d'environ ${minutes} min sur celle du serveur : ` +
            "les ventes sont datées à l'heure du serveur ; remettez l'ordinateur à l'heure",
        );
      } else if (warned) {
        logger.info({ decalage_ms: offset }, "L'horloge de cet ordinateur est de nouveau à l'heure du serveur");
      }
      warned = far;
    },
  };
}
