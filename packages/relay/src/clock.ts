import type { RelayStore } from './relay-store.js';

/** Beyond this gap between the relay's clock and the server's, staff are told (log and status). */
export const CLOCK_WARN_MS = 2 * 60_000;
/**
 * Below this, a measured gap is the measure's own error (the `Date` header has whole seconds,
 * plus the network's delay): no correction, nothing written. Two measures this close agree.
 */
export const CLOCK_TOLERANCE_MS = 5_000;
/**
 * Measures in a row that must agree before a new gap is believed: one answer with a wrong
 * `Date` (a proxy, a server restarting with its clock unset) must not re-date every later sale.
 */
export const CLOCK_CONFIRMATIONS = 3;
/**
 * The largest gap the relay corrects. A shop PC is off by minutes or hours (a time zone set
 * wrong); a gap of days means one of the two clocks is wrong in a way the relay cannot tell:
 * it is said loudly and sales keep this machine's time.
 */
export const CLOCK_MAX_CORRECTION_MS = 48 * 3_600_000;

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A gap as a person reads it: "45 min", "8 h 19 min", "20 454 j 3 h". */
export function describeClockGap(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return `${days.toLocaleString('fr-FR').replace(/\s/g, ' ')} j${hours % 24 === 0 ? '' : ` ${hours % 24} h`}`;
}

/** The sentence for the log and `status`; `offsetMs` is the server's clock minus this machine's. */
export function clockGapMessage(offsetMs: number): string {
  const gap = describeClockGap(offsetMs);
  if (Math.abs(offsetMs) > CLOCK_MAX_CORRECTION_MS) {
    return (
      `L'horloge de cet ordinateur et celle du serveur diffèrent d'environ ${gap} : l'une des deux est fausse, ` +
      "les ventes restent datées à l'heure de cet ordinateur ; vérifiez l'heure de cet ordinateur et celle du serveur"
    );
  }
  return (
    `L'horloge de cet ordinateur ${offsetMs > 0 ? 'retarde' : 'avance'} d'environ ${gap} sur celle du serveur : ` +
    "les ventes sont datées à l'heure du serveur ; remettez l'ordinateur à l'heure"
  );
}

/** The correction the intake applies for a recorded gap: none beyond CLOCK_MAX_CORRECTION_MS. */
export const clockCorrection = (offsetMs: number) => (Math.abs(offsetMs) <= CLOCK_MAX_CORRECTION_MS ? offsetMs : 0);

/**
 * Follows the gap between this machine's clock and the server's, as measured on the sync
 * answers that validate (the forwarder's `onClockOffset`). A new gap is believed once
 * CLOCK_CONFIRMATIONS measures in a row agree. The correction is kept in `etat`
 * (`decalage_horloge_ms`), where the intake reads it to stamp `date_vente` on the server's
 * time, never beyond CLOCK_MAX_CORRECTION_MS; beyond CLOCK_WARN_MS the gap is also recorded for
 * `status` (`horloge_decalee`) and said in the log.
 */
export function createClockWatch(store: RelayStore, logger: Logger, now: () => Date = () => new Date()) {
  const known = (() => {
    try {
      return (JSON.parse(store.getEtat('horloge_decalee') ?? 'null') as { decalage_ms?: number } | null)?.decalage_ms;
    } catch {
      return undefined;
    }
  })();
  let recorded = typeof known === 'number' ? known : store.clockOffsetMs();
  let warned = Math.abs(recorded) > CLOCK_WARN_MS;
  let candidate: { offset: number; seen: number } | null = null;

  return {
    observe(offsetMs: number): void {
      if (!Number.isFinite(offsetMs)) return;
      const offset = Math.abs(offsetMs) < CLOCK_TOLERANCE_MS ? 0 : Math.round(offsetMs);
      if (Math.abs(offset - recorded) < CLOCK_TOLERANCE_MS) {
        candidate = null;
        return;
      }
      candidate = candidate && Math.abs(offset - candidate.offset) < CLOCK_TOLERANCE_MS ? { offset, seen: candidate.seen + 1 } : { offset, seen: 1 };
      if (candidate.seen < CLOCK_CONFIRMATIONS) return;
      const far = Math.abs(offset) > CLOCK_WARN_MS;
      try {
        store.setEtats({
          decalage_horloge_ms: String(clockCorrection(offset)),
          horloge_decalee: far
            ? JSON.stringify({ decalage_ms: offset, mesure_le: now().toISOString(), corrige: clockCorrection(offset) === offset })
            : null,
        });
      } catch {
        return; // The file cannot be written (full disk): measured again on the next answers.
      }
      recorded = offset;
      candidate = null;
      if (far && Math.abs(offset) > CLOCK_MAX_CORRECTION_MS) logger.error({ decalage_ms: offset }, clockGapMessage(offset));
      else if (far) logger.warn({ decalage_ms: offset }, clockGapMessage(offset));
      else if (warned) logger.info({ decalage_ms: offset }, "L'horloge de cet ordinateur est de nouveau à l'heure du serveur");
      warned = far;
    },
  };
}
