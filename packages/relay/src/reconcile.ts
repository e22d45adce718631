import {
  checkFuseau,
  compareUtf8,
  createEmpreinte,
  sortUtf8,
  DEFAULT_FUSEAU,
  formatMoney,
  localDayOf,
  nextDay,
  parseMoney,
  RECONCILIATION_PATH,
  type ReconciliationResponse,
  ReconciliationResponseSchema,
} from '@ventesync/shared';
import { printable } from '@ventesync/runtime/cli';
import { randomBytes } from 'node:crypto';
import type { UpstreamAnswer } from './classify.js';
import { SCREEN_COLUMNS, wrap } from './fit-table.js';
import type { Db } from './db/open-database.js';
import type { RelayStore, TerminalInfo } from './relay-store.js';

/** What reconciliation needs of a till the relay knows. */
export type TillInfo = Pick<TerminalInfo, 'serial' | 'statut' | 'terminal_nom' | 'boutique_nom'>;

// Reconciliation (CONTRACT §7), the relay's side: for each till, the server's account of a
// shop-local day against the sales this relay holds as SYNCHRONISEE for that day, net of the
// returns of them it forwarded (SYNCHRONISEE too): the server counts each sale net of its
// returns. A sale still waiting here (EN_ATTENTE) is pending, never a disagreement, even when
// the server already has it (a send whose answer was lost).

/** Most pages of `detail=1` read for one till and day: 1,000 pages of 1,000 sales. */
export const MAX_DETAIL_PAGES = 1000;
/** One question to the server: a day's fingerprint on a large day is a few seconds of reading. */
export const RECONCILE_ANSWER_DEADLINE_MS = 30_000;
/** Numeros listed per side for people; `--json` lists them all. */
export const NUMEROS_SHOWN = 20;
/** `etat` key of the last result, for `status`. */
export const LAST_RECONCILIATION_KEY = 'dernier_rapprochement';

/** What reconciliation needs of the upstream: signed GETs (upstream.ts). */
export interface ReconcileUpstream {
  get(pathAndQuery: string, serial: string, deadlineMs?: number): Promise<UpstreamAnswer>;
}

/**
 * Centimes of a sum (a day's total, a gap): a number while it is exact as one, a bigint past
 * 2^53, as the server keeps its sums (README, money rule). `--json` writes either as a JSON
 * integer with every digit (jsonExact).
 */
export type SumCentimes = number | bigint;

/** A number while exact, else the bigint itself: small sums read as before, large ones stay exact. */
export function exactCentimes(value: bigint): SumCentimes {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** JSON text of a report, bigints written as JSON integers, digit for digit. */
export function jsonExact(value: unknown, indent = 2): string {
  const marks: string[] = [];
  // A mark no text of the report can be (a server's words included): random for each call.
  const tag = `bigint-${randomBytes(8).toString('hex')}-`;
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${tag}${marks.push(v.toString()) - 1}` : v), indent);
  return text.replace(new RegExp(`"${tag}(\\d+)"`, 'g'), (_match, i: string) => marks[Number(i)]!);
}

export interface AmountDifference {
  numero_facture: string;
  relais_centimes: SumCentimes;
  serveur_centimes: SumCentimes;
}

interface TillBase {
  serial: string;
  terminal: string | null;
  boutique: string | null;
}

export type TillReconciliation =
  | (TillBase & {
      statut: 'ACCORD' | 'DESACCORD';
      fuseau: string;
      /** As the server counts them: net of returns; `retours_centimes`, what its returns took off. */
      serveur: { nombre_ventes: number; montant_centimes: SumCentimes; retours_centimes: SumCentimes };
      /**
       * The relay's synced sales at the amounts the server confirmed (before any return);
       * `retours_centimes`: the returns of them it forwarded, which the server has confirmed.
       */
      relais: { nombre_ventes: number; montant_centimes: SumCentimes; retours_centimes: SumCentimes };
      /** Sales of the day still waiting on the relay: not compared. */
      en_attente: string[];
      /** Relay SYNCHRONISEE, absent from the server. */
      absentes_du_serveur: string[];
      /** On the server, neither synced nor waiting on the relay. */
      absentes_du_relais: string[];
      montants_differents: AmountDifference[];
      /**
       * Returns the relay forwarded (SYNCHRONISEE) of this day's synced sales that the server does
       * not hold (its detail does not name them, or its sale is missing there).
       */
      retours_absents_du_serveur: string[];
      /**
       * Returns a person discarded here (ABANDONNEE) that the server holds all the same (a send
       * whose answer was lost, e.g. the relay killed mid-send): the books here leave them out.
       */
      retours_abandonnes_au_serveur: string[];
      /**
       * Server minus relay, in centimes, net of returns, over the compared sales (pending ones
       * left out). Returns the server holds that did not pass through this relay (a till that
       * sent them to the server itself) are not a gap: only those the relay forwarded count.
       */
      ecart_centimes: SumCentimes;
    })
  | (TillBase & { statut: 'INJOIGNABLE'; raison: string })
  | (TillBase & { statut: 'REFUSE'; code: string; raison: string });

export interface ReconciliationReport {
  jour: string;
  le: string;
  /** Every till asked agrees. */
  accord: boolean;
  /** Numeros that differ, all tills together (absent on a side, or another amount). */
  numeros_differents: number;
  /** Tills the server could not be asked about (away, or refused the request). */
  non_verifies: number;
  terminaux: TillReconciliation[];
}

/** `reconcile`'s exit status: 0 all agree, 1 a disagreement, 2 the server could not be asked. */
export function exitStatusOf(report: ReconciliationReport): 0 | 1 | 2 {
  if (report.terminaux.some((t) => t.statut === 'DESACCORD')) return 1;
  return report.non_verifies > 0 ? 2 : 0;
}

/** The day before `now` on this machine's calendar (the shop PC is set to the shop's zone). */
export function yesterdayLocal(now: Date): string {
  const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  return `${String(d.getFullYear()).padStart(4, '0')}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

interface HeldRetourLine {
  numero_retour: string;
  centimes: bigint;
  /** Discarded here by a person (ABANDONNEE), not forwarded as far as the relay knows. */
  abandonne: boolean;
}

interface HeldRow {
  numero_facture: string;
  statut: 'SYNCHRONISEE' | 'EN_ATTENTE';
  centimes: bigint;
  date_utc: string | null;
}

/**
 * The relay's books for reconciliation. A held sale's date is the `date_vente` it is forwarded
 * with (always set: the relay stamps one on arrival), read in UTC by SQLite (offsets included).
 * Its amount is the server's, as the server confirmed it, else the relay's own estimate.
 */
export function createReconcileBooks(db: Db) {
  const DATE = "strftime('%Y-%m-%dT%H:%M:%fZ', COALESCE(json_extract(contenu, '$.date_vente'), recue_le))";
  const stmt = db.prepare<[string, string, string], { numero_facture: string; statut: HeldRow['statut']; montant_total: number; montant_serveur: string | null; date_utc: string | null }>(`
    SELECT numero_facture, statut, montant_total, montant_serveur, ${DATE} AS date_utc FROM ventes
    WHERE serial = ? AND statut IN ('SYNCHRONISEE', 'EN_ATTENTE') AND ${DATE} >= ? AND ${DATE} < ?`);
  // The returns this relay forwarded of the till's synced sales of those days: the till's own
  // returns of them, or any till's of the same boutique (a return goes to its sale's boutique).
  const V_DATE = "strftime('%Y-%m-%dT%H:%M:%fZ', COALESCE(json_extract(v.contenu, '$.date_vente'), v.recue_le))";
  // Discarded ones too: the server may hold one all the same (its send's answer lost).
  const retoursStmt = db.prepare<[string, string, string], { numero_facture: string; numero_retour: string; montant_total: number; montant_serveur: string | null; statut: string }>(`
    SELECT v.numero_facture, r.numero_retour, r.montant_total, r.montant_serveur, r.statut FROM ventes v
      JOIN retours r ON r.numero_facture = v.numero_facture AND r.statut IN ('SYNCHRONISEE', 'ABANDONNEE') AND (r.serial = v.serial OR r.boutique_id = v.boutique_id)
    WHERE v.serial = ? AND v.statut = 'SYNCHRONISEE' AND ${V_DATE} >= ? AND ${V_DATE} < ?
    ORDER BY r.id`);
  return {
    /** Per sale numero, the returns of it the relay forwarded and the server confirmed, and those discarded here (same days as `around`). */
    retoursAround(serial: string, jour: string): Map<string, HeldRetourLine[]> {
      const byVente = new Map<string, HeldRetourLine[]>();
      const from = `${previousDay(jour)}T00:00:00.000Z`;
      const to = `${nextDay(nextDay(jour))}T00:00:00.000Z`;
      for (const r of retoursStmt.all(serial, from, to)) {
        const line = {
          numero_retour: r.numero_retour,
          centimes: (r.montant_serveur === null ? null : centimesOf(r.montant_serveur)) ?? BigInt(r.montant_total),
          abandonne: r.statut === 'ABANDONNEE',
        };
        byVente.set(r.numero_facture, [...(byVente.get(r.numero_facture) ?? []), line]);
      }
      return byVente;
    },
    /**
     * The till's synced and waiting sales dated from the UTC day before `jour` to the UTC day
     * after it: local day `jour` lies inside in any zone (offsets run from −12 h to +14 h). The
     * zone is known only once the server has answered, and these are read before asking it, so
     * that a sale synced meanwhile counts as waiting rather than missing.
     */
    around(serial: string, jour: string): HeldRow[] {
      const from = `${previousDay(jour)}T00:00:00.000Z`;
      const to = `${nextDay(nextDay(jour))}T00:00:00.000Z`;
      return stmt.all(serial, from, to).map((r) => ({
        numero_facture: r.numero_facture,
        statut: r.statut,
        centimes: (r.montant_serveur === null ? null : centimesOf(r.montant_serveur)) ?? BigInt(r.montant_total),
        date_utc: r.date_utc,
      }));
    },
  };
}

export type ReconcileBooks = ReturnType<typeof createReconcileBooks>;

function previousDay(jour: string): string {
  return new Date(Date.parse(`${jour}T00:00:00.000Z`) - 86_400_000).toISOString().slice(0, 10);
}

/** Money text as the server writes it ("-12.50", a day's total of any length). */
const MONEY_TEXT = /^(-?)(\d{1,30})(?:\.(\d{1,2}))?$/;

/**
 * The server's money text in exact centimes, whatever its length (parseMoney stops at 13
 * digits: a day's total, even one sale, may be longer); null when it is no amount.
 */
function centimesOf(text: string): bigint | null {
  const match = MONEY_TEXT.exec(text);
  if (!match) return null;
  const centimes = BigInt(match[2]!) * 100n + BigInt((match[3] ?? '').padEnd(2, '0'));
  return match[1] === '-' ? -centimes : centimes;
}

const describeAnswer = (answer: Extract<UpstreamAnswer, { kind: 'response' }>): { code: string; raison: string } => {
  const body = answer.body as { code?: unknown; error?: unknown } | null;
  const code = typeof body?.code === 'string' ? body.code : `HTTP_${answer.status}`;
  const text = typeof body?.error === 'string' ? body.error : `réponse ${answer.status} du serveur`;
  return { code, raison: text.slice(0, 300) };
};

type Asked = { ok: true; body: ReconciliationResponse } | { ok: false; outcome: TillReconciliation };

async function ask(upstream: ReconcileUpstream, till: TillBase, query: string): Promise<Asked> {
  const answer = await upstream.get(`${RECONCILIATION_PATH}?${query}`, till.serial, RECONCILE_ANSWER_DEADLINE_MS);
  if (answer.kind === 'network-error') return { ok: false, outcome: { ...till, statut: 'INJOIGNABLE', raison: answer.reason } };
  if (answer.status === 502 || answer.status === 503 || answer.status === 504) {
    return { ok: false, outcome: { ...till, statut: 'INJOIGNABLE', raison: describeAnswer(answer).raison } };
  }
  if (answer.status !== 200) return { ok: false, outcome: { ...till, statut: 'REFUSE', ...describeAnswer(answer) } };
  const parsed = ReconciliationResponseSchema.safeParse(answer.body);
  if (!parsed.success) {
    return { ok: false, outcome: { ...till, statut: 'REFUSE', code: 'REPONSE_ILLISIBLE', raison: 'réponse du serveur illisible (pas un rapprochement)' } };
  }
  return { ok: true, body: parsed.data };
}

/** A sale as the server counts it: net of its returns, and what they took off; their numeros when listed. */
interface ServerSale {
  net: bigint;
  retours: bigint;
  numeros_retours: ReadonlySet<string> | null;
}

/** The server's sales of the day, page after page (`apres` = the previous page's `suite`). */
async function serverSales(upstream: ReconcileUpstream, till: TillBase, jour: string): Promise<{ ok: true; sales: Map<string, ServerSale> } | { ok: false; outcome: TillReconciliation }> {
  const sales = new Map<string, ServerSale>();
  let apres: string | null = null;
  for (let page = 0; page < MAX_DETAIL_PAGES; page += 1) {
    const asked = await ask(upstream, till, `jour=${jour}&detail=1${apres === null ? '' : `&apres=${encodeURIComponent(apres)}`}`);
    if (!asked.ok) return asked;
    for (const v of asked.body.ventes ?? []) {
      sales.set(v.numero_facture, {
        net: centimesOf(v.montant_total) ?? 0n,
        retours: v.montant_retours === undefined ? 0n : (centimesOf(v.montant_retours) ?? 0n),
        numeros_retours: v.retours === undefined ? null : new Set(v.retours),
      });
    }
    apres = asked.body.suite ?? null;
    if (apres === null) return { ok: true, sales };
  }
  return { ok: false, outcome: { ...till, statut: 'REFUSE', code: 'JOUR_TROP_GRAND', raison: `plus de ${MAX_DETAIL_PAGES} pages de ventes pour ce jour : comparaison abandonnée` } };
}

/** Exact, as the server sums: a day's total may pass 2^53 centimes. */
const sum = (values: Iterable<bigint>): bigint => {
  let total = 0n;
  for (const v of values) total += v;
  return total;
};

/** One till: ask the server, compare with the relay's books, name what differs. */
export async function reconcileTill(upstream: ReconcileUpstream, books: ReconcileBooks, info: TillInfo, jour: string): Promise<TillReconciliation> {
  const till: TillBase = { serial: info.serial, terminal: info.terminal_nom, boutique: info.boutique_nom };
  const held = books.around(info.serial, jour);
  const retoursHeld = books.retoursAround(info.serial, jour);
  const asked = await ask(upstream, till, `jour=${jour}`);
  if (!asked.ok) return asked.outcome;
  const zone = checkFuseau(asked.body.fuseau);
  // A server without `fuseau` in its answer counts days in UTC (the default zone).
  const fuseau = zone.ok ? zone.fuseau : DEFAULT_FUSEAU;
  const ofDay = held.filter((r) => r.date_utc !== null && localDayOf(r.date_utc, fuseau) === jour);
  const synced = new Map(ofDay.filter((r) => r.statut === 'SYNCHRONISEE').map((r) => [r.numero_facture, r.centimes]));
  const waiting = new Set(ofDay.filter((r) => r.statut === 'EN_ATTENTE' && !synced.has(r.numero_facture)).map((r) => r.numero_facture));

  const retoursOf = (numero: string): HeldRetourLine[] => (retoursHeld.get(numero) ?? []).filter((r) => !r.abandonne);
  const abandonnesOf = (numero: string): HeldRetourLine[] => (retoursHeld.get(numero) ?? []).filter((r) => r.abandonne);
  const returnedOf = (numero: string): bigint => sum(retoursOf(numero).map((r) => r.centimes));

  const empreinte = createEmpreinte();
  // As the server counts a sale: net of its returns (here, those this relay forwarded). One
  // sale's amount is a safe integer (the relay and the server refuse larger ones): exact as a number.
  for (const numero of sortUtf8(synced.keys())) empreinte.add({ numero_facture: numero, centimes: Number(synced.get(numero)! - returnedOf(numero)) });
  const relaisSum = sum(synced.values());
  const relaisRetours = sum([...synced.keys()].map(returnedOf));
  const relais = { nombre_ventes: synced.size, montant_centimes: exactCentimes(relaisSum), retours_centimes: exactCentimes(relaisRetours) };
  const serveurTotal: { nombre_ventes: number; montant_centimes: SumCentimes; retours_centimes: SumCentimes } = {
    nombre_ventes: asked.body.nombre_ventes,
    montant_centimes: exactCentimes(centimesOf(asked.body.montant_total) ?? 0n),
    // Equal fingerprints: the server took off what the relay's returns did.
    retours_centimes: exactCentimes(relaisRetours),
  };
  const agreed = (server: typeof serveurTotal): TillReconciliation => ({
    ...till,
    statut: 'ACCORD',
    fuseau,
    serveur: server,
    relais,
    en_attente: sortUtf8(waiting),
    absentes_du_serveur: [],
    absentes_du_relais: [],
    montants_differents: [],
    retours_absents_du_serveur: [],
    retours_abandonnes_au_serveur: [],
    ecart_centimes: 0,
  });
  if (empreinte.hex() === asked.body.empreinte) return agreed(serveurTotal);

  // The fingerprints differ (or a sale has returns that did not pass through this relay): the server's list says where.
  const listed = await serverSales(upstream, till, jour);
  if (!listed.ok) return listed.outcome;
  const server = listed.sales;
  const absentesDuServeur = sortUtf8([...synced.keys()].filter((n) => !server.has(n)));
  const absentesDuRelais = sortUtf8([...server.keys()].filter((n) => !synced.has(n) && !waiting.has(n)));
  const montantsDifferents = [...synced.entries()]
    .filter(([n, c]) => server.has(n) && server.get(n)!.net + server.get(n)!.retours !== c)
    .map(([n, c]) => ({ numero_facture: n, relais_centimes: exactCentimes(c), serveur_centimes: exactCentimes(server.get(n)!.net + server.get(n)!.retours) }))
    .sort((a, b) => compareUtf8(a.numero_facture, b.numero_facture));
  // Returns this relay forwarded that the server does not hold: named by the server's list of
  // the sale's returns; a server that lists none for it (an older one, or too many returns)
  // is judged by their amount: all of the sale's are named when it holds less than they make.
  const retoursAbsents: HeldRetourLine[] = [];
  for (const numero of synced.keys()) {
    const mine = retoursOf(numero);
    if (mine.length === 0) continue;
    const theirs = server.get(numero);
    if (theirs === undefined) retoursAbsents.push(...mine);
    else if (theirs.numeros_retours !== null) retoursAbsents.push(...mine.filter((r) => !theirs.numeros_retours!.has(r.numero_retour)));
    else if (theirs.retours < sum(mine.map((r) => r.centimes))) retoursAbsents.push(...mine);
  }
  const retoursAbsentsDuServeur = sortUtf8(retoursAbsents.map((r) => r.numero_retour));
  // Returns discarded here that the server holds: named by its list; a server that lists none
  // is judged by amount (it took off more than the returns forwarded make).
  const abandonnesHeld: HeldRetourLine[] = [];
  for (const numero of synced.keys()) {
    const dropped = abandonnesOf(numero);
    const theirs = server.get(numero);
    if (dropped.length === 0 || theirs === undefined) continue;
    if (theirs.numeros_retours !== null) abandonnesHeld.push(...dropped.filter((r) => theirs.numeros_retours!.has(r.numero_retour)));
    else if (theirs.retours > returnedOf(numero)) abandonnesHeld.push(...dropped);
  }
  const retoursAbandonnesAuServeur = sortUtf8(abandonnesHeld.map((r) => r.numero_retour));
  // Sales still waiting here are left out on both sides, also when the server has them.
  const compared = [...server.entries()].filter(([n]) => !waiting.has(n));
  const serveurNet = sum(compared.map(([, c]) => c.net));
  const serveurRetours = sum(compared.map(([, c]) => c.retours));
  const serveurCompare = {
    nombre_ventes: compared.length,
    montant_centimes: exactCentimes(serveurNet),
    retours_centimes: exactCentimes(serveurRetours),
  };
  if (absentesDuServeur.length + absentesDuRelais.length + montantsDifferents.length + retoursAbsentsDuServeur.length + retoursAbandonnesAuServeur.length === 0) {
    return agreed(serveurCompare);
  }
  return {
    ...till,
    statut: 'DESACCORD',
    fuseau,
    serveur: serveurCompare,
    relais,
    en_attente: sortUtf8(waiting),
    absentes_du_serveur: absentesDuServeur,
    absentes_du_relais: absentesDuRelais,
    montants_differents: montantsDifferents,
    retours_absents_du_serveur: retoursAbsentsDuServeur,
    retours_abandonnes_au_serveur: retoursAbandonnesAuServeur,
    // The sales' gap, the relay's returns the server lacks (it holds that much more, net), and
    // the returns discarded here it holds (that much less).
    ecart_centimes: exactCentimes(
      serveurNet + serveurRetours - relaisSum + sum(retoursAbsents.map((r) => r.centimes)) - sum(abandonnesHeld.map((r) => r.centimes)),
    ),
  };
}

/** The tills to ask about: every one the relay knows or holds sales of, but those the server refused. */
export function tillsOf(store: Pick<RelayStore, 'terminaux' | 'summary'>): TillInfo[] {
  const known = new Map<string, TillInfo>(store.terminaux().map((t) => [t.serial, t]));
  for (const s of store.summary()) {
    if (!known.has(s.serial)) known.set(s.serial, { serial: s.serial, statut: 'NON_VERIFIE', terminal_nom: null, boutique_nom: null });
  }
  // A serial the server said it does not know has nothing there to compare.
  return [...known.values()].filter((t) => t.statut !== 'INCONNU').sort((a, b) => compareUtf8(a.serial, b.serial));
}

/** Each till in turn (one question at a time: the server's fingerprint reads a whole day). */
export async function reconcile(
  upstream: ReconcileUpstream,
  books: ReconcileBooks,
  tills: readonly TillInfo[],
  jour: string,
  now: Date,
): Promise<ReconciliationReport> {
  const results: TillReconciliation[] = [];
  for (const info of tills) results.push(await reconcileTill(upstream, books, info, jour));
  const numeros = results.reduce(
    (n, r) =>
      n +
      (r.statut === 'DESACCORD'
        ? r.absentes_du_serveur.length + r.absentes_du_relais.length + r.montants_differents.length + r.retours_absents_du_serveur.length +
          r.retours_abandonnes_au_serveur.length
        : 0),
    0,
  );
  const nonVerifies = results.filter((r) => r.statut === 'INJOIGNABLE' || r.statut === 'REFUSE').length;
  return {
    jour,
    le: now.toISOString(),
    accord: results.every((r) => r.statut === 'ACCORD'),
    numeros_differents: numeros,
    non_verifies: nonVerifies,
    terminaux: results,
  };
}

/** What `status` keeps of the last reconciliation: the verdict, not the lists. */
export interface LastReconciliation {
  jour: string;
  le: string;
  accord: boolean;
  numeros_differents: number;
  non_verifies: number;
  terminaux_en_desaccord: string[];
  automatique: boolean;
}

export function lastReconciliationOf(report: ReconciliationReport, automatique: boolean): LastReconciliation {
  return {
    jour: report.jour,
    le: report.le,
    accord: report.accord,
    numeros_differents: report.numeros_differents,
    non_verifies: report.non_verifies,
    terminaux_en_desaccord: report.terminaux.filter((t) => t.statut === 'DESACCORD').map((t) => t.serial),
    automatique,
  };
}

const money = (centimes: SumCentimes) => formatMoney(BigInt(centimes));
const signed = (centimes: SumCentimes) => `${BigInt(centimes) > 0n ? '+' : ''}${centimes}`;

function numeroList(numeros: readonly string[]): string {
  const shown = numeros.slice(0, NUMEROS_SHOWN).join(', ');
  return numeros.length > NUMEROS_SHOWN ? `${shown} … et ${numeros.length - NUMEROS_SHOWN} autre(s) (--json pour la liste entière)` : shown;
}

/**
 * The report for people, in French, one block per till, in `width` columns: a long line goes on
 * indented under itself; the data (names, numeros) never reaches the terminal raw.
 */
export function renderReconciliation(report: ReconciliationReport, width = SCREEN_COLUMNS): string[] {
  return reconciliationLines(report).flatMap((line) => {
    const indent = /^ */.exec(line)![0];
    const [first = '', ...rest] = wrap(printable(line.slice(indent.length)), Math.max(20, width - indent.length - 2));
    return [`${indent}${first}`, ...rest.map((more) => `${indent}  ${more}`)];
  });
}

function reconciliationLines(report: ReconciliationReport): string[] {
  const lines: string[] = [`Rapprochement du ${report.jour} (jour local de la boutique), relais et serveur :`];
  if (report.terminaux.length === 0) lines.push('  aucun terminal connu du relais : rien à comparer.');
  for (const t of report.terminaux) {
    const name = t.terminal && t.terminal !== t.serial ? `${t.terminal} (${t.serial})` : t.serial;
    lines.push('', `${name}${t.boutique ? `, ${t.boutique}` : ''}`);
    if (t.statut === 'INJOIGNABLE') {
      lines.push(`  NON VÉRIFIÉ : serveur injoignable (${t.raison})`);
      continue;
    }
    if (t.statut === 'REFUSE') {
      lines.push(`  NON VÉRIFIÉ : le serveur a refusé la demande (${t.code} : ${t.raison})`);
      continue;
    }
    const zone = t.fuseau === DEFAULT_FUSEAU ? '' : ` (fuseau ${t.fuseau})`;
    if (t.statut === 'ACCORD') {
      lines.push(`  D'ACCORD au centime${zone} : ${t.relais.nombre_ventes} vente(s), ${money(t.relais.montant_centimes)} des deux côtés`);
      if (BigInt(t.serveur.retours_centimes) > 0n) {
        lines.push(`  retours enregistrés au serveur sur ces ventes : ${money(t.serveur.retours_centimes)} (net ${money(t.serveur.montant_centimes)})`);
      }
    } else {
      lines.push(
        `  DÉSACCORD${zone} : serveur ${t.serveur.nombre_ventes} vente(s), ${money(BigInt(t.serveur.montant_centimes) + BigInt(t.serveur.retours_centimes))}` +
          `${BigInt(t.serveur.retours_centimes) > 0n ? ` avant retours (${money(t.serveur.retours_centimes)} rendus)` : ''} ; ` +
          `relais ${t.relais.nombre_ventes} vente(s) synchronisée(s), ${money(t.relais.montant_centimes)}` +
          `${BigInt(t.relais.retours_centimes) > 0n ? `, ${money(t.relais.retours_centimes)} de retours transmis` : ''}`,
      );
      lines.push(`  écart (serveur − relais) : ${signed(t.ecart_centimes)} centimes (${money(t.ecart_centimes)})`);
      if (t.absentes_du_serveur.length > 0) {
        lines.push(`  absentes du serveur (${t.absentes_du_serveur.length}) : ${numeroList(t.absentes_du_serveur)}`);
      }
      if (t.absentes_du_relais.length > 0) {
        lines.push(`  absentes du relais (${t.absentes_du_relais.length}) : ${numeroList(t.absentes_du_relais)}`);
      }
      if (t.retours_absents_du_serveur.length > 0) {
        lines.push(`  retours transmis absents du serveur (${t.retours_absents_du_serveur.length}) : ${numeroList(t.retours_absents_du_serveur)}`);
      }
      if (t.retours_abandonnes_au_serveur.length > 0) {
        lines.push(
          `  retours abandonnés sur le relais mais enregistrés au serveur (${t.retours_abandonnes_au_serveur.length}) : ${numeroList(t.retours_abandonnes_au_serveur)}`,
        );
      }
      for (const d of t.montants_differents.slice(0, NUMEROS_SHOWN)) {
        lines.push(`  montant différent : ${d.numero_facture} : relais ${money(d.relais_centimes)}, serveur ${money(d.serveur_centimes)}`);
      }
      if (t.montants_differents.length > NUMEROS_SHOWN) lines.push(`  … et ${t.montants_differents.length - NUMEROS_SHOWN} autre(s) montant(s) différent(s) (--json)`);
    }
    if (t.en_attente.length > 0) {
      lines.push(`  ${t.en_attente.length} vente(s) de ce jour encore en attente d'envoi, pas comptées (pas un désaccord) : ${numeroList(t.en_attente)}`);
    }
  }
  lines.push('');
  if (report.terminaux.some((t) => t.statut === 'DESACCORD')) {
    lines.push(`Résultat : DÉSACCORD, ${report.numeros_differents} numéro(s) diffèrent.`);
  } else if (report.non_verifies > 0) {
    lines.push(`Résultat : ${report.non_verifies} terminal(aux) non vérifié(s) : réessayez quand le serveur répond.`);
  } else {
    lines.push("Résultat : tout est d'accord.");
  }
  return lines;
}

/**
 * The daemon reconciles the day before by itself, once, from this local hour on: the evening's
 * last sales have had the night to reach the server.
 */
export const DAILY_RECONCILE_FROM_HOUR = 2;
/** How often the daemon looks whether the day before is reconciled yet (and retries a server that was away). */
export const DAILY_RECONCILE_CHECK_MS = 15 * 60_000;
/** The first look, a minute after start: not in the rush of the tills reconnecting. */
export const DAILY_RECONCILE_FIRST_CHECK_MS = 60_000;
/** `etat` key of the last day the daemon reconciled with every till checked. */
export const AUTO_RECONCILED_DAY_KEY = 'rapprochement_auto_jour';

interface ReconcileLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Once a day, the day before (this machine's calendar), every till; the verdict is kept for
 * `status` and logged. A day some till could not be checked for is tried again at the next look.
 */
export function createDailyReconciliation(deps: {
  store: Pick<RelayStore, 'getEtat' | 'setEtat' | 'terminaux' | 'summary'>;
  books: ReconcileBooks;
  upstream: ReconcileUpstream;
  logger: ReconcileLogger;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  let running: Promise<ReconciliationReport | null> | null = null;
  let timers: NodeJS.Timeout[] = [];

  async function run(): Promise<ReconciliationReport | null> {
    const at = now();
    if (at.getHours() < DAILY_RECONCILE_FROM_HOUR) return null;
    const jour = yesterdayLocal(at);
    if (deps.store.getEtat(AUTO_RECONCILED_DAY_KEY) === jour) return null;
    const report = await reconcile(deps.upstream, deps.books, tillsOf(deps.store), jour, at);
    deps.store.setEtat(LAST_RECONCILIATION_KEY, JSON.stringify(lastReconciliationOf(report, true)));
    if (report.non_verifies === 0) deps.store.setEtat(AUTO_RECONCILED_DAY_KEY, jour);
    const summary = { jour, accord: report.accord, numeros_differents: report.numeros_differents, non_verifies: report.non_verifies };
    if (report.terminaux.some((t) => t.statut === 'DESACCORD')) {
      deps.logger.warn(summary, `Rapprochement du ${jour} : DÉSACCORD avec le serveur, ${report.numeros_differents} numéro(s) diffèrent (ventesync-relay reconcile --jour ${jour})`);
    } else if (report.non_verifies > 0) {
      deps.logger.warn(summary, `Rapprochement du ${jour} : ${report.non_verifies} terminal(aux) non vérifié(s), nouvel essai dans ${DAILY_RECONCILE_CHECK_MS / 60_000} min`);
    } else {
      deps.logger.info(summary, `Rapprochement du ${jour} : d'accord avec le serveur`);
    }
    return report;
  }

  /** Runs the day's reconciliation when it is due and not done; one at a time. */
  function runIfDue(): Promise<ReconciliationReport | null> {
    running ??= run()
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, 'Rapprochement automatique impossible pour le moment');
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  return {
    runIfDue,
    start(): void {
      timers = [setTimeout(() => void runIfDue(), DAILY_RECONCILE_FIRST_CHECK_MS), setInterval(() => void runIfDue(), DAILY_RECONCILE_CHECK_MS)];
      for (const t of timers) t.unref();
    },
    /** Stops the looks; a reconciliation under way is waited for. */
    async stop(): Promise<void> {
      for (const t of timers) clearTimeout(t);
      timers = [];
      await running;
    },
  };
}

/** The last reconciliation in a line for `status`: its day, the verdict, when it ran (`when`: local time). */
export function reconciliationLine(last: LastReconciliation, when: (iso: string) => string): string {
  const ran = `fait ${when(last.le)}${last.automatique ? ' par le relais' : ''}`;
  if (last.terminaux_en_desaccord.length > 0) {
    return `${last.jour} : DÉSACCORD avec le serveur, ${last.numeros_differents} numéro(s) diffèrent (${ran}) ; détail :`;
  }
  if (last.non_verifies > 0) return `${last.jour} : ${last.non_verifies} terminal(aux) non vérifié(s), serveur injoignable (${ran}) ; à refaire :`;
  return `${last.jour} : d'accord avec le serveur (${ran})`;
}
