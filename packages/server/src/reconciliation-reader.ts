import {
  createEmpreinte,
  DEFAULT_FUSEAU,
  formatMoney,
  localDayBoundsMs,
  MAX_RECONCILIATION_RETOURS_PER_VENTE,
  MAX_DATE_MS,
  MIN_DATE_MS,
  type ReconciliationLine,
} from '@ventesync/shared';
import type { Db } from './db/open-database.js';

export interface ReconciliationDay {
  fuseau: string;
  nombre_ventes: number;
  /** centimes, net of returns: a bigint, as every sum of amounts (README, money rule) */
  montant_total: bigint;
  empreinte: string;
}

export interface ReconciliationPage {
  ventes: Array<{ numero_facture: string; montant_total: string; montant_retours?: string; retours?: string[] }>;
  /** The numero to continue after; null when this page ends the day. */
  suite: string | null;
}

/**
 * A local day's first and past-last instants as stored dates compare (UTC ISO text, years
 * 0000–9999): a bound outside those years is open on that side.
 */
export function storedBounds(jour: string, fuseau: string): { from: string; to: string } {
  const { from, to } = localDayBoundsMs(jour, fuseau);
  return {
    from: from < MIN_DATE_MS ? '0000' : new Date(from).toISOString(),
    to: to > MAX_DATE_MS ? '9999-12-32' : new Date(to).toISOString(),
  };
}

/**
 * A day's count, total and fingerprint, its lines added one by one in UTF-8 byte order of
 * numero: a backend reads them as a stream or in chunks, any size of day.
 */
export function reconciliationAccumulator(fuseau: string) {
  const empreinte = createEmpreinte();
  let nombre = 0;
  let montant = 0n;
  return {
    add(numero_facture: string, amount: number | string): void {
      const line: ReconciliationLine = { numero_facture, centimes: Number(amount) };
      empreinte.add(line);
      nombre += 1;
      montant += BigInt(amount);
    },
    day(): ReconciliationDay {
      return { fuseau, nombre_ventes: nombre, montant_total: montant, empreinte: empreinte.hex() };
    },
  };
}

/**
 * A page from up to `limit + 1` rows [numero, net centimes, returned centimes, its return
 * numeros (up to MAX_RECONCILIATION_RETOURS_PER_VENTE + 1, in byte order)]: the extra row says
 * a next page exists.
 */
export function reconciliationPageOf(
  rows: ReadonlyArray<readonly [string, number, number, readonly string[]]>,
  limit: number,
): ReconciliationPage {
  const shown = rows.slice(0, limit);
  return {
    ventes: shown.map(([numero_facture, centimes, retours, numeros]) => ({
      numero_facture,
      montant_total: formatMoney(centimes),
      // A relay that did not see the returns (a till sent them to the server) still finds the sale it sent.
      ...(retours > 0 ? { montant_retours: formatMoney(retours) } : {}),
      // A relay that forwarded returns names one the server no longer has; a sale with more lists none.
      ...(numeros.length > 0 && numeros.length <= MAX_RECONCILIATION_RETOURS_PER_VENTE ? { retours: [...numeros] } : {}),
    })),
    suite: rows.length > limit ? shown[shown.length - 1]![0] : null,
  };
}

// A sale's amount as reconciliation counts it: its montant_total net of every return of it
// recorded so far, whatever the return's day or till (the books of that day, as they stand).
// BINARY collation compares the stored UTF-8 bytes (memcmp): the order of the fingerprint's
// lines, and of the `apres` cursor, is UTF-8 byte order, never JavaScript's UTF-16 order.
const RETURNED = 'COALESCE((SELECT SUM(r.montant_total) FROM retours r WHERE r.vente_id = v.id), 0)';
const NET_AMOUNT = `v.montant_total - ${RETURNED}`;
// The sale's return numeros (JSON text), one more than listed: a sale with more lists none.
const RETURN_NUMEROS = `(SELECT json_group_array(numero_retour) FROM (
  SELECT r.numero_retour FROM retours r WHERE r.vente_id = v.id ORDER BY r.numero_retour COLLATE BINARY LIMIT ${MAX_RECONCILIATION_RETOURS_PER_VENTE + 1}))`;
const DAY_SALES = `
  FROM ventes v
  WHERE v.boutique_id = ? AND v.terminal_serial = ? AND v.date_vente >= ? AND v.date_vente < ?`;

/**
 * Days kept computed (oldest out first): a full day is one pass over all its sales (about
 * 200 ms for 100,000), and relays ask again and again for the same day.
 */
export const MAX_RECONCILIATION_CACHE = 256;

/** The server side of §7's reconciliation: one till's sales of one local day of its boutique. */
export function createReconciliationReader(db: Db) {
  // The fingerprint needs each pair in byte order; a database in UTF-16 would sort otherwise.
  const encoding = db.pragma('encoding', { simple: true });
  if (encoding !== 'UTF-8') throw new Error(`Rapprochement : base en ${String(encoding)}, UTF-8 attendu`);
  const stmt = {
    fuseau: db.prepare<[number], string>('SELECT fuseau FROM boutiques WHERE id = ?').pluck(),
    // Any row written on this connection (total_changes) or committed by another one, the CLI or
    // a hand edit (data_version), may change a day: a computed day holds until either moves.
    changes: db.prepare<[], number>('SELECT total_changes()').pluck(),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    lines: db
      .prepare<[number, string, string, string], [string, number]>(
        `SELECT v.numero_facture, ${NET_AMOUNT} ${DAY_SALES} ORDER BY v.numero_facture COLLATE BINARY`,
      )
      .raw(),
    page: db
      .prepare<[number, string, string, string, string, number], [string, number, number, string]>(
        `SELECT v.numero_facture, ${NET_AMOUNT}, ${RETURNED}, ${RETURN_NUMEROS} ${DAY_SALES}
           AND v.numero_facture > ? COLLATE BINARY
         ORDER BY v.numero_facture COLLATE BINARY LIMIT ?`,
      )
      .raw(),
  };

  const fuseauOf = (boutiqueId: number): string => stmt.fuseau.get(boutiqueId) ?? DEFAULT_FUSEAU;
  const cache = new Map<string, { version: string; day: ReconciliationDay }>();
  const versionNow = () => `${stmt.changes.get()!} ${stmt.dataVersion.get()!}`;
  const keyOf = (boutiqueId: number, serial: string, jour: string) => JSON.stringify([boutiqueId, serial, jour]);

  function cached(boutiqueId: number, serial: string, jour: string): ReconciliationDay | undefined {
    const hit = cache.get(keyOf(boutiqueId, serial, jour));
    return hit && hit.version === versionNow() ? hit.day : undefined;
  }

  function computeDay(boutiqueId: number, serial: string, jour: string): ReconciliationDay {
    const fuseau = fuseauOf(boutiqueId);
    const { from, to } = storedBounds(jour, fuseau);
    const day = reconciliationAccumulator(fuseau);
    for (const [numero, centimes] of stmt.lines.iterate(boutiqueId, serial, from, to)) day.add(numero, centimes);
    return day.day();
  }

  return {
    fuseauOf,
    /** The day as last computed when nothing was written since (cheap), else undefined. */
    cached,
    /** Count, total and fingerprint of the whole day, read as a stream: any size of day. */
    day(boutiqueId: number, serial: string, jour: string): ReconciliationDay {
      const hit = cached(boutiqueId, serial, jour);
      if (hit) return hit;
      const version = versionNow();
      const day = computeDay(boutiqueId, serial, jour);
      const key = keyOf(boutiqueId, serial, jour);
      cache.delete(key);
      cache.set(key, { version, day });
      if (cache.size > MAX_RECONCILIATION_CACHE) cache.delete(cache.keys().next().value!);
      return day;
    },
    /** Up to `limit` of the day's sales after `apres` (byte order), and where to continue. */
    page(boutiqueId: number, serial: string, jour: string, apres: string | null, limit: number): ReconciliationPage {
      const { from, to } = storedBounds(jour, fuseauOf(boutiqueId));
      // One more than asked tells whether a next page exists; '' sorts before every numero.
      const rows = stmt.page.all(boutiqueId, serial, from, to, apres ?? '', limit + 1);
      return reconciliationPageOf(
        rows.map(([numero, net, rendu, numeros]) => [numero, net, rendu, JSON.parse(numeros) as string[]] as const),
        limit,
      );
    },
  };
}

export type ReconciliationReader = ReturnType<typeof createReconciliationReader>;
