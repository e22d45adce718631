import {
  ArticleEntrySchema,
  BoutiqueEntrySchema,
  FIXTURE_SECTIONS,
  type Fixture,
  fixtureIssueList,
  FixtureSchema,
  TerminalEntrySchema,
} from '@ventesync/shared';
import { readFileSync } from 'node:fs';
import { type ArticleRow, type BoutiqueRow, CatalogueError, type CatalogueStore } from './catalogue-store.js';
import type { Db } from './db/open-database.js';

export type ImportResult =
  | { ok: true; boutiques: number; terminaux: number; articles: number }
  | { ok: false; erreur: string; problemes: string[] };

/** A file with thousands of bad entries lists this many, then says how many more. */
export const MAX_REPORTED_PROBLEMS = 50;

const ENTRY_SCHEMAS = { boutiques: BoutiqueEntrySchema, terminaux: TerminalEntrySchema, articles: ArticleEntrySchema } as const;

export function refused(problemes: string[]): ImportResult {
  const shown = problemes.slice(0, MAX_REPORTED_PROBLEMS);
  if (problemes.length > shown.length) shown.push(`… et ${problemes.length - shown.length} autre(s) problème(s)`);
  return { ok: false, erreur: shown.join(' ; '), problemes: shown };
}

/**
 * Every problem of a fixture in one pass: the shape of each entry (all of them, not the first
 * bad one), then, for the entries that are well formed, what only the database can tell: a
 * boutique that exists nowhere, an article already in another boutique, an id given twice.
 */
/** What the checks ask of the database; PostgreSQL answers from rows it read beforehand. */
export interface FixtureLookup {
  findBoutique(id: number): BoutiqueRow | undefined;
  getArticle(id: number): ArticleRow | undefined;
}

export function fixtureProblems(catalogue: FixtureLookup, content: unknown): { problemes: string[]; fixture: Fixture | null } {
  const parsed = FixtureSchema.safeParse(content, { reportInput: true });
  const problemes = parsed.success ? [] : fixtureIssueList(parsed.error);
  // Well-formed entries are checked further even when others are not.
  const entries = <K extends keyof typeof ENTRY_SCHEMAS>(section: K) => {
    const raw = (content as Record<string, unknown> | null)?.[section];
    if (!Array.isArray(raw)) return [];
    return raw.flatMap((entry, i) => {
      const one = ENTRY_SCHEMAS[section].safeParse(entry);
      return one.success ? [{ i, entry: one.data as Fixture[K][number] }] : [];
    });
  };
  if (content === null || typeof content !== 'object' || Array.isArray(content)) return { problemes, fixture: null };

  const boutiques = entries('boutiques');
  const terminaux = entries('terminaux');
  const articles = entries('articles');
  const firstIndex = new Map<string, number>();
  const twice = (section: string, key: string | number, i: number) => {
    const id = `${section}:${key}`;
    const first = firstIndex.get(id);
    if (first === undefined) firstIndex.set(id, i);
    else problemes.push(`${section}[${i}] : ${section === 'terminaux' ? 'serial' : 'id'} ${key} déjà donné en ${section}[${first}]`);
  };
  const boutiqueIds = new Set(boutiques.map((b) => b.entry.id));
  const boutiqueKnown = (id: number) => boutiqueIds.has(id) || catalogue.findBoutique(id) !== undefined;
  for (const { i, entry } of boutiques) twice('boutiques', entry.id, i);
  for (const { i, entry } of terminaux) {
    twice('terminaux', entry.serial, i);
    if (!boutiqueKnown(entry.boutique_id)) problemes.push(`terminaux[${i}] : boutique ${entry.boutique_id} introuvable (ni dans la base ni dans le fichier)`);
  }
  for (const { i, entry } of articles) {
    twice('articles', entry.id, i);
    if (!boutiqueKnown(entry.boutique_id)) problemes.push(`articles[${i}] : boutique ${entry.boutique_id} introuvable (ni dans la base ni dans le fichier)`);
    const existing = catalogue.getArticle(entry.id);
    if (existing && existing.boutique_id !== entry.boutique_id) {
      problemes.push(`articles[${i}] : l'article ${entry.id} appartient déjà à la boutique ${existing.boutique_id}, pas à ${entry.boutique_id}`);
    }
  }
  return { problemes, fixture: parsed.success ? parsed.data : null };
}

/** Loads a fixture (insert or update by id / serial), all or nothing; every problem reported at once. */
export function importFixture(db: Db, catalogue: CatalogueStore, content: unknown, now: Date): ImportResult {
  const { problemes, fixture } = fixtureProblems(catalogue, content);
  if (problemes.length > 0 || !fixture) return refused(problemes.length > 0 ? problemes : ['fichier invalide']);

  let where = '';
  try {
    db.transaction(() => {
      for (const [i, b] of fixture.boutiques.entries()) {
        where = `boutiques[${i}]`;
        catalogue.upsertBoutique(b);
      }
      for (const [i, t] of fixture.terminaux.entries()) {
        where = `terminaux[${i}]`;
        catalogue.getBoutique(t.boutique_id);
        catalogue.upsertTerminal(t);
      }
      for (const [i, a] of fixture.articles.entries()) {
        where = `articles[${i}]`;
        catalogue.getBoutique(a.boutique_id);
        catalogue.upsertArticle(a, now);
      }
    }).immediate();
  } catch (error) {
    // Checked above; kept for what changed in the database between the check and the write.
    if (error instanceof CatalogueError) return refused([`${where} : ${error.message}`]);
    throw error;
  }
  return {
    ok: true,
    boutiques: fixture.boutiques.length,
    terminaux: fixture.terminaux.length,
    articles: fixture.articles.length,
  };
}

export type FixtureRead = { ok: true; content: unknown } | { ok: false; erreur: string };

/** Line and column (1-based) of a character offset, as an editor shows them. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** Latin-1 bytes read as UTF-8 would become U+FFFD: `caisse-é` and `caisse-è` one and the same. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a fixture file as JSON; a syntax error names its line and column; not UTF-8 is refused. */
export function readFixtureFile(file: string): FixtureRead {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, erreur: code === 'ENOENT' ? `fichier ${file} introuvable` : `impossible de lire ${file} (${code ?? String(error)})` };
  }
  let text: string;
  try {
    // Strict, and a leading byte-order mark (some Windows editors write one) is dropped.
    text = UTF8.decode(bytes);
  } catch {
    return { ok: false, erreur: `${file} n'est pas un texte UTF-8 (enregistré en Latin-1 ou ANSI ?) : réenregistrez-le en UTF-8` };
  }
  try {
    return { ok: true, content: JSON.parse(text) };
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message)?.[1];
    const offset = position !== undefined ? Number(position) : /end of JSON input/i.test(message) ? text.length : null;
    if (offset === null) return { ok: false, erreur: `${file} n'est pas du JSON valide (${message})` };
    const { line, column } = lineColumn(text, offset);
    return { ok: false, erreur: `${file} n'est pas du JSON valide : ligne ${line}, colonne ${column}` };
  }
}
