import {
  formatMoney,
  localDayBounds,
  localDayOf,
  type ModePaiement,
  MODES_PAIEMENT,
  parseDay,
  zoneOffsetMs,
} from '@ventesync/shared';
import { formatTable, printable } from '@ventesync/runtime/cli';
import { type Db, SOMME_CENTIMES } from './db/open-database.js';

/** Unpaid sales listed one by one in a report; past it, only their count and amount. */
export const MAX_RAPPORT_IMPAYEES = 50;

export interface RapportMode {
  nombre_ventes: number;
  montant_ventes: string;
  nombre_retours: number;
  montant_retours: string;
  /** Sales minus returns. */
  net: string;
}

export interface RapportTicket {
  numero_facture: string;
  /** ISO 8601 UTC, as stored. */
  date_vente: string;
  /** HH:MM:SS in the boutique's zone. */
  heure_locale: string;
}

export interface RapportChiffres {
  nombre_ventes: number;
  nombre_retours: number;
  par_mode_paiement: Record<ModePaiement, RapportMode>;
  montant_ventes: string;
  montant_retours: string;
  net: string;
  /** Sales with `paye: false` (their amounts are in the sales above). */
  impayees: { nombre_ventes: number; montant: string };
  premier_ticket: RapportTicket | null;
  dernier_ticket: RapportTicket | null;
}

export interface RapportCaisse extends RapportChiffres {
  serial: string;
  terminal: string;
}

export interface Rapport {
  boutique_id: number;
  boutique_nom: string;
  devise: string;
  fuseau: string;
  jour: string;
  /** The local day's instants in UTC: `debut` inclusive, `fin` exclusive. */
  debut: string;
  fin: string;
  caisses: RapportCaisse[];
  total: RapportChiffres;
  ventes_impayees: Array<{ numero_facture: string; terminal: string; date_vente: string; heure_locale: string; montant: string }>;
  /** Unpaid sales of the day not listed (beyond MAX_RAPPORT_IMPAYEES). */
  ventes_impayees_omises: number;
}

export type RapportResult = { ok: true; rapport: Rapport } | { ok: false; erreur: string };

/** HH:MM:SS of an instant in a zone. */
function localTime(iso: string, fuseau: string): string {
  const time = Date.parse(iso);
  return new Date(time + zoneOffsetMs(fuseau, time)).toISOString().slice(11, 19);
}

interface Sums {
  // Sums of amounts are bigints: a day's can pass 2^53 centimes (README, money rule).
  ventes: Map<ModePaiement, { n: number; m: bigint }>;
  retours: Map<ModePaiement, { n: number; m: bigint }>;
  impayees: { n: number; m: bigint };
  premier: RapportTicket | null;
  dernier: RapportTicket | null;
}

const emptySums = (): Sums => ({ ventes: new Map(), retours: new Map(), impayees: { n: 0, m: 0n }, premier: null, dernier: null });

function add(map: Map<ModePaiement, { n: number; m: bigint }>, mode: ModePaiement, n: number, m: bigint): void {
  const s = map.get(mode);
  if (s) {
    s.n += n;
    s.m += m;
  } else {
    map.set(mode, { n, m });
  }
}

function chiffresOf(s: Sums): RapportChiffres {
  const par_mode_paiement = {} as Record<ModePaiement, RapportMode>;
  let nv = 0;
  let mv = 0n;
  let nr = 0;
  let mr = 0n;
  for (const mode of MODES_PAIEMENT) {
    const v = s.ventes.get(mode) ?? { n: 0, m: 0n };
    const r = s.retours.get(mode) ?? { n: 0, m: 0n };
    nv += v.n;
    mv += v.m;
    nr += r.n;
    mr += r.m;
    par_mode_paiement[mode] = {
      nombre_ventes: v.n,
      montant_ventes: formatMoney(v.m),
      nombre_retours: r.n,
      montant_retours: formatMoney(r.m),
      net: formatMoney(v.m - r.m),
    };
  }
  return {
    nombre_ventes: nv,
    nombre_retours: nr,
    par_mode_paiement,
    montant_ventes: formatMoney(mv),
    montant_retours: formatMoney(mr),
    net: formatMoney(mv - mr),
    impayees: { nombre_ventes: s.impayees.n, montant: formatMoney(s.impayees.m) },
    premier_ticket: s.premier,
    dernier_ticket: s.dernier,
  };
}

export const rapportBoutiqueNotFound = (boutiqueId: number): RapportResult => ({ ok: false, erreur: `Boutique ${boutiqueId} introuvable` });

/** The report's day (`jour` as typed, else today in the boutique's zone) and its instants, or why not. */
export function rapportDay(jour: string | undefined, now: Date, fuseau: string): { ok: true; jour: string; from: string; to: string } | { ok: false; erreur: string } {
  let day: string;
  if (jour === undefined) {
    day = localDayOf(now.getTime(), fuseau);
  } else {
    const parsed = parseDay(jour);
    if (parsed === null) return { ok: false, erreur: `--jour « ${printable(jour)} » n'est pas une date réelle : AAAA-MM-JJ attendu (ex. 2025-10-29)` };
    day = parsed;
  }
  return { ok: true, jour: day, ...localDayBounds(day, fuseau) };
}

/** What a backend reads for a report: its day's rows, grouped and bounded as rapport.ts's statements. */
export interface RapportRows {
  /** The boutique's active tills, by serial. */
  terminaux: Array<{ serial: string }>;
  /** Sales per till, mode and paid flag: count and exact sum (integer text or bigint). */
  ventes: Array<{ serial: string; mode: ModePaiement; paye: number; n: number; m: string | bigint }>;
  retours: Array<{ serial: string; mode: ModePaiement; n: number; m: string | bigint }>;
  /** Each till's first (premier = 1) and last (dernier = 1) sale by time, ties by arrival. */
  tickets: Array<{ serial: string; numero_facture: string; date_vente: string; premier: number; dernier: number }>;
  /** The first MAX_RAPPORT_IMPAYEES unpaid sales by time. */
  impayees: Array<{ numero_facture: string; serial: string; date_vente: string; montant_total: number }>;
  /** A till's name (its serial when it is gone). */
  nomOf: (serial: string) => string;
}

/** The report from its rows: the same on every backend. */
export function buildRapport(boutique: { id: number; nom: string; devise: string; fuseau: string }, day: string, rows: RapportRows): RapportResult {
  const fuseau = boutique.fuseau;
  const { from, to } = localDayBounds(day, fuseau);
  const caisses = new Map<string, Sums>();
  const total = emptySums();
  const sumsOf = (serial: string) => {
    let s = caisses.get(serial);
    if (!s) {
      s = emptySums();
      caisses.set(serial, s);
    }
    return s;
  };
  // Every active till is listed, also one that sent nothing: a silent till is what to notice.
  for (const t of rows.terminaux) sumsOf(t.serial);
  for (const row of rows.ventes) {
    for (const s of [sumsOf(row.serial), total]) {
      add(s.ventes, row.mode, row.n, BigInt(row.m));
      if (row.paye === 0) {
        s.impayees.n += row.n;
        s.impayees.m += BigInt(row.m);
      }
    }
  }
  for (const row of rows.retours) {
    for (const s of [sumsOf(row.serial), total]) add(s.retours, row.mode, row.n, BigInt(row.m));
  }
  for (const row of rows.tickets) {
    const ticket = { numero_facture: row.numero_facture, date_vente: row.date_vente, heure_locale: localTime(row.date_vente, fuseau) };
    const s = sumsOf(row.serial);
    // A till with one sale: the same row is its first and its last.
    if (row.premier === 1) s.premier = ticket;
    if (row.dernier === 1) s.dernier = ticket;
    if (!total.premier || ticket.date_vente < total.premier.date_vente) total.premier = ticket;
    if (!total.dernier || ticket.date_vente >= total.dernier.date_vente) total.dernier = ticket;
  }
  const impayees = rows.impayees.map((v) => ({
    numero_facture: v.numero_facture,
    terminal: rows.nomOf(v.serial),
    date_vente: v.date_vente,
    heure_locale: localTime(v.date_vente, fuseau),
    montant: formatMoney(v.montant_total),
  }));
  return {
    ok: true,
    rapport: {
      boutique_id: boutique.id,
      boutique_nom: boutique.nom,
      devise: boutique.devise,
      fuseau,
      jour: day,
      debut: from,
      fin: to,
      caisses: [...caisses].map(([serial, s]) => ({ serial, terminal: rows.nomOf(serial), ...chiffresOf(s) })),
      total: chiffresOf(total),
      ventes_impayees: impayees,
      ventes_impayees_omises: total.impayees.n - impayees.length,
    },
  };
}

/**
 * The daily close (rapport de caisse) of a boutique: for its local day, per till and for the
 * boutique, sales and returns by payment mode, net of returns, unpaid sales, first and last
 * receipts. Read in one transaction, so a till syncing meanwhile never makes the totals and
 * the lists disagree. Sums are done by SQLite (exactly: somme_centimes) over the day's rows (indexed by boutique and
 * date); only the unpaid list is bounded, everything else is a few rows per till.
 */
export function createRapportReader(db: Db) {
  const stmt = {
    boutique: db.prepare<[number], { id: number; nom: string; devise: string; fuseau: string }>(
      'SELECT id, nom, devise, fuseau FROM boutiques WHERE id = ?',
    ),
    terminaux: db.prepare<[number], { serial: string; nom: string }>(
      'SELECT serial, nom FROM terminaux WHERE boutique_id = ? AND actif = 1 ORDER BY serial',
    ),
    terminalNom: db.prepare<[string], string>('SELECT nom FROM terminaux WHERE serial = ?').pluck(),
    ventes: db.prepare<[number, string, string], { serial: string; mode: ModePaiement; paye: number; n: number; m: string }>(`
      SELECT terminal_serial AS serial, mode_paiement AS mode, paye, COUNT(*) AS n, ${SOMME_CENTIMES}(montant_total) AS m
      FROM ventes WHERE boutique_id = ? AND date_vente >= ? AND date_vente < ?
      GROUP BY terminal_serial, mode_paiement, paye`),
    retours: db.prepare<[number, string, string], { serial: string; mode: ModePaiement; n: number; m: string }>(`
      SELECT terminal_serial AS serial, mode_paiement AS mode, COUNT(*) AS n, ${SOMME_CENTIMES}(montant_total) AS m
      FROM retours WHERE boutique_id = ? AND date_retour >= ? AND date_retour < ?
      GROUP BY terminal_serial, mode_paiement`),
    // The first and the last receipt of each till by time (ties by arrival).
    tickets: db.prepare<[number, string, string], { serial: string; numero_facture: string; date_vente: string; premier: number; dernier: number }>(`
      SELECT serial, numero_facture, date_vente, premier, dernier FROM (
        SELECT terminal_serial AS serial, numero_facture, date_vente,
               ROW_NUMBER() OVER (PARTITION BY terminal_serial ORDER BY date_vente, id) AS premier,
               ROW_NUMBER() OVER (PARTITION BY terminal_serial ORDER BY date_vente DESC, id DESC) AS dernier
        FROM ventes WHERE boutique_id = ? AND date_vente >= ? AND date_vente < ?
      ) WHERE premier = 1 OR dernier = 1`),
    impayees: db.prepare<[number, string, string, number], { numero_facture: string; serial: string; date_vente: string; montant_total: number }>(`
      SELECT numero_facture, terminal_serial AS serial, date_vente, montant_total
      FROM ventes WHERE boutique_id = ? AND date_vente >= ? AND date_vente < ? AND paye = 0
      ORDER BY date_vente, id LIMIT ?`),
  };

  const read = db.transaction((boutiqueId: number, jour: string | undefined, now: Date): RapportResult => {
    const boutique = stmt.boutique.get(boutiqueId);
    if (!boutique) return rapportBoutiqueNotFound(boutiqueId);
    const day = rapportDay(jour, now, boutique.fuseau);
    if (!day.ok) return day;
    const { from, to } = day;
    const noms = new Map<string, string>();
    return buildRapport(boutique, day.jour, {
      terminaux: stmt.terminaux.all(boutiqueId),
      ventes: stmt.ventes.all(boutiqueId, from, to),
      retours: stmt.retours.all(boutiqueId, from, to),
      tickets: stmt.tickets.all(boutiqueId, from, to),
      impayees: stmt.impayees.all(boutiqueId, from, to, MAX_RAPPORT_IMPAYEES),
      nomOf: (serial) => {
        let nom = noms.get(serial);
        if (nom === undefined) {
          nom = stmt.terminalNom.get(serial) ?? serial;
          noms.set(serial, nom);
        }
        return nom;
      },
    });
  });

  return {
    /** The report of `jour` (AAAA-MM-JJ, the boutique's local day; today there by default). */
    rapport: (boutiqueId: number, jour: string | undefined, now: Date): RapportResult => read(boutiqueId, jour, now),
  };
}

function ticketText(t: RapportTicket | null): string {
  return t ? `${t.heure_locale} ${printable(t.numero_facture)}` : '—';
}

function blockOf(title: string, c: RapportChiffres): string {
  const rows = MODES_PAIEMENT.map((mode) => ({ mode, ...c.par_mode_paiement[mode] }));
  rows.push({
    mode: 'TOTAL' as ModePaiement,
    nombre_ventes: c.nombre_ventes,
    montant_ventes: c.montant_ventes,
    nombre_retours: c.nombre_retours,
    montant_retours: c.montant_retours,
    net: c.net,
  });
  const table = formatTable(rows, [
    ['mode', 'PAIEMENT'],
    ['nombre_ventes', 'VENTES'],
    ['montant_ventes', 'MONTANT'],
    ['nombre_retours', 'RETOURS'],
    ['montant_retours', 'RENDU'],
    ['net', 'NET'],
  ]);
  return [
    title,
    `  ${c.nombre_ventes} vente(s), ${c.nombre_retours} retour(s)`,
    `  premier ticket : ${ticketText(c.premier_ticket)}`,
    `  dernier ticket : ${ticketText(c.dernier_ticket)}`,
    `  non payées     : ${c.impayees.nombre_ventes} vente(s), ${c.impayees.montant}`,
    ...table.split('\n').map((line) => `  ${line}`),
  ].join('\n');
}

/** What the report is read on: a terminal window. */
export const RAPPORT_COLUMNS = 80;

/**
 * A line wider than the screen goes on at a space (a word longer than the room is cut), the
 * rest indented under its start: a long till name or a 64-character receipt number.
 */
function fitLine(line: string): string[] {
  if (line.length <= RAPPORT_COLUMNS) return [line];
  const indent = ' '.repeat(line.length - line.trimStart().length + 4);
  const out: string[] = [];
  let rest = line;
  while (rest.length > RAPPORT_COLUMNS) {
    const space = rest.lastIndexOf(' ', RAPPORT_COLUMNS);
    const cut = space > indent.length ? space : RAPPORT_COLUMNS;
    out.push(rest.slice(0, cut).trimEnd());
    rest = indent + rest.slice(cut).trimStart();
  }
  out.push(rest);
  return out;
}

/** The report as a person reads it, within RAPPORT_COLUMNS. */
export function formatRapport(r: Rapport): string {
  const parts = [
    `Rapport de caisse — ${printable(r.boutique_nom)} (boutique ${r.boutique_id}) — ${r.jour}`,
    `Heures locales (${r.fuseau}) ; montants en ${printable(r.devise)} ; NET = MONTANT - RENDU.`,
    ...r.caisses.map((c) => blockOf(`Caisse « ${printable(c.terminal)} » (${printable(c.serial)})`, c)),
    blockOf('Boutique (toutes caisses)', r.total),
  ];
  if (r.ventes_impayees.length > 0) {
    const list = formatTable(r.ventes_impayees, [
      ['heure_locale', 'HEURE'],
      ['numero_facture', 'NUMERO'],
      ['terminal', 'CAISSE'],
      ['montant', 'MONTANT'],
    ]);
    let lines = list.split('\n').map((line) => `  ${line}`);
    // Too wide as a table (a long numero or till name): one sale on two lines, its numero whole.
    if (lines.some((line) => line.length > RAPPORT_COLUMNS)) {
      lines = r.ventes_impayees.flatMap((v) => [
        `  ${v.heure_locale}  ${v.montant}  ${printable(v.terminal)}`,
        `    ${printable(v.numero_facture)}`,
      ]);
    }
    parts.push(
      ['Ventes non payées :', ...lines].join('\n') +
        (r.ventes_impayees_omises > 0 ? `\n  … et ${r.ventes_impayees_omises} autre(s)` : ''),
    );
  }
  return parts
    .join('\n\n')
    .split('\n')
    .flatMap((line) => fitLine(line))
    .join('\n');
}
