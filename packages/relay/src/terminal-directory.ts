import { ARTICLES_PATH, type ArticlesResponse, ArticlesResponseSchema, parseMoney } from '@ventesync/shared';
import { z } from 'zod';
import type { RelayStore, TerminalInfo } from './relay-store.js';
import type { Upstream } from './upstream.js';

export interface RelayTerminal {
  serial: string;
  boutique_id: number | null;
  boutique_nom: string;
  terminal_nom: string;
}

const NamesSchema = z.object({ boutique_nom: z.string().max(200), terminal: z.string().max(200) });
const ErrorCodeSchema = z.object({ code: z.string() });

const VERIFY_TIMEOUT_MS = 2_000;
const NAMES_TIMEOUT_MS = 10_000;
// A till not confirmed yet is re-checked at most this often: during an outage each check
// can cost the till seconds of waiting, on every sale.
const RECHECK_AFTER_MS = 60_000;
/**
 * Serials never seen that the server refused on a read (no sale, no return brought): kept in
 * memory only, at most this many (the oldest forgotten first), so that junk serials on reads
 * neither fill the relay's list of tills nor reach the server on every request.
 */
const MAX_REFUSED_READERS = 1_000;

function toRelayTerminal(info: TerminalInfo): RelayTerminal {
  return {
    serial: info.serial,
    boutique_id: info.boutique_id,
    boutique_nom: info.boutique_nom ?? '',
    terminal_nom: info.terminal_nom ?? info.serial,
  };
}

/**
 * What the relay knows of tills, learned from the server: a till the server knows is served
 * at once; a new one is checked with the server (its catalogue, which is cached on the way);
 * when the server is away a new till is trusted for now, and its sales wait for the server's
 * verdict. A till the server refused stays refused until the server says otherwise.
 */
export function createTerminalDirectory(store: RelayStore, upstream: Upstream, now: () => Date = () => new Date()) {
  /**
   * Keeps the server's catalogue answer, only when it reads as the contract says: a broken
   * answer leaves the last good copy in place. Never throws (a full disk only means the copy
   * is not refreshed): a till's sale must not fail because of the catalogue.
   */
  function cacheCatalogue(body: unknown): ArticlesResponse | null {
    const parsed = ArticlesResponseSchema.safeParse(body);
    if (!parsed.success) return null;
    try {
      store.replaceCatalogue(parsed.data.boutique_id, parsed.data.articles, now(), parseMoney);
    } catch {
      // The relay's file refused the write: the old copy stays.
    }
    return parsed.data;
  }

  /**
   * The articles answer has no names. An empty batch is the one request whose answer names
   * both the till and its boutique, and it creates nothing: the till's very first answer
   * through the relay then carries its name, as the server's would.
   */
  async function names(serial: string, timeoutMs = NAMES_TIMEOUT_MS): Promise<{ boutique_nom: string; terminal: string } | null> {
    const answer = await upstream.postSync(serial, '[]', AbortSignal.timeout(timeoutMs));
    if (answer.kind !== 'response' || answer.status !== 200) return null;
    return NamesSchema.safeParse(answer.body).data ?? null;
  }

  /** Asks the server for the till's catalogue; learns the till and caches the catalogue. */
  async function refresh(serial: string, timeoutMs?: number, recordRefusal = true): Promise<'known' | 'unknown' | 'unreachable'> {
    const answer = await upstream.get(ARTICLES_PATH, serial, timeoutMs);
    store.recordServerAnswered(answer.kind === 'response', now());
    if (answer.kind === 'network-error') return 'unreachable';
    if (answer.status === 404 && ErrorCodeSchema.safeParse(answer.body).data?.code === 'TERMINAL_NOT_FOUND') {
      if (!recordRefusal) return 'unknown';
      const known = store.terminal(serial);
      store.saveTerminal(serial, 'INCONNU', { boutique_id: known?.boutique_id ?? null, boutique_nom: null, terminal_nom: null }, now());
      return 'unknown';
    }
    const body = answer.status === 200 ? cacheCatalogue(answer.body) : null;
    if (body === null) return 'unreachable';
    const previous = store.terminal(serial);
    const learned = previous?.boutique_nom && previous.terminal_nom ? null : await names(serial, timeoutMs);
    store.saveTerminal(
      serial,
      'CONNU',
      {
        boutique_id: body.boutique_id,
        boutique_nom: previous?.boutique_nom ?? learned?.boutique_nom ?? null,
        terminal_nom: previous?.terminal_nom ?? learned?.terminal ?? null,
      },
      now(),
    );
    return 'known';
  }

  const refusedReaders = new Map<string, number>();

  /**
   * A serial the relay has never seen, on a read: checked with the server as any, but written
   * to the relay's file only once the server knows it; a refusal is remembered in memory, and
   * while the server is away the read is served without recording the till.
   */
  async function findReader(serial: string): Promise<RelayTerminal | undefined> {
    const checkedAt = refusedReaders.get(serial);
    const age = checkedAt === undefined ? Number.NaN : now().getTime() - checkedAt;
    if (age >= 0 && age < RECHECK_AFTER_MS) return undefined;
    const verdict = await refresh(serial, VERIFY_TIMEOUT_MS, false);
    if (verdict === 'unknown') {
      refusedReaders.delete(serial);
      if (refusedReaders.size >= MAX_REFUSED_READERS) refusedReaders.delete(refusedReaders.keys().next().value!);
      refusedReaders.set(serial, now().getTime());
      return undefined;
    }
    refusedReaders.delete(serial);
    const info = store.terminal(serial);
    if (info) return toRelayTerminal(info);
    return { serial, boutique_id: null, boutique_nom: '', terminal_nom: serial };
  }

  return {
    refresh,
    cacheCatalogue,
    /**
     * The till behind a serial, or undefined when the server refuses it (404 to the till).
     * `read`: the request brings no sale or return (see findReader).
     */
    async find(serial: string, options: { read?: boolean } = {}): Promise<RelayTerminal | undefined> {
      const info = store.terminal(serial);
      if (!info && options.read) return findReader(serial);
      if (info?.statut === 'CONNU') return toRelayTerminal(info);
      const checkedAt = info?.verifie_le ? Date.parse(info.verifie_le) : Number.NaN;
      // A check dated in the future means the wall clock was set back: check again now
      // rather than wait out the jump.
      const age = now().getTime() - checkedAt;
      if (info && age >= 0 && age < RECHECK_AFTER_MS) {
        return info.statut === 'INCONNU' ? undefined : toRelayTerminal(info);
      }
      const verdict = await refresh(serial, VERIFY_TIMEOUT_MS);
      if (verdict === 'unknown') return undefined;
      if (verdict === 'unreachable') {
        if (info?.statut === 'INCONNU') return undefined;
        store.saveTerminal(serial, info?.statut ?? 'NON_VERIFIE', { boutique_id: null, boutique_nom: null, terminal_nom: null }, now());
      }
      return toRelayTerminal(store.terminal(serial)!);
    },
    /** Refreshes every boutique's cached catalogue through one of its tills. */
    async refreshCatalogues(): Promise<void> {
      for (const t of store.terminalsPerBoutique()) await refresh(t.serial);
    },
  };
}

export type TerminalDirectory = ReturnType<typeof createTerminalDirectory>;
