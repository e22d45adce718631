import type { ArticleRow, BoutiqueRow } from '../catalogue-store.js';
import { CatalogueError } from '../catalogue-rules.js';
import { fixtureProblems, type ImportResult, refused } from '../fixture-import.js';
import { createPgCatalogue, type PgCatalogue } from './pg-catalogue.js';
import { int, type PgRunner, type PgStatement } from './pg-runner.js';

/**
 * `import` on PostgreSQL: fixture-import.ts's checks (every problem at once, same words), then
 * every entry written in one transaction, all or nothing.
 */
const SQL = {
  boutiques: { name: 'vs_imp_boutiques', text: 'SELECT id, nom, devise, fuseau, stock_negatif FROM boutiques WHERE id = ANY($1::bigint[])' },
  articles: {
    name: 'vs_imp_articles',
    text: 'SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM articles WHERE id = ANY($1::bigint[])',
  },
} satisfies Record<string, PgStatement>;

/** The ids a section of the file names, as far as they are whole numbers (the checks say the rest). */
function idsIn(content: unknown, section: string, key: string): string[] {
  const entries = (content as Record<string, unknown> | null)?.[section];
  if (!Array.isArray(entries)) return [];
  return entries.flatMap((entry) => {
    const id = (entry as Record<string, unknown> | null)?.[key];
    return typeof id === 'number' && Number.isSafeInteger(id) ? [String(id)] : [];
  });
}

/**
 * The checks ask "is there such a boutique, such an article?" synchronously: the rows the file
 * can name are read first, in two queries, then answered from memory.
 */
async function lookupFor(db: PgRunner, content: unknown) {
  const boutiqueIds = [...idsIn(content, 'boutiques', 'id'), ...idsIn(content, 'terminaux', 'boutique_id'), ...idsIn(content, 'articles', 'boutique_id')];
  const boutiques = new Map<number, BoutiqueRow>();
  for (const b of (await db.query<BoutiqueRow & { id: string }>(SQL.boutiques, [boutiqueIds])).rows) boutiques.set(int(b.id), { ...b, id: int(b.id) });
  const articles = new Map<number, ArticleRow>();
  const rows = (await db.query<Record<keyof ArticleRow, string>>(SQL.articles, [idsIn(content, 'articles', 'id')])).rows;
  for (const a of rows) {
    articles.set(int(a.id), {
      id: int(a.id),
      boutique_id: int(a.boutique_id),
      nom: a.nom,
      prix_vente: int(a.prix_vente),
      quantite_stock: int(a.quantite_stock),
    });
  }
  return { findBoutique: (id: number) => boutiques.get(id), getArticle: (id: number) => articles.get(id) };
}

/** Entries with their index in the file, in key order (ids and serials are unique: checked before). */
function byKey<T, K extends number | string>(entries: readonly T[], key: (entry: T) => K): Array<[number, T]> {
  return [...entries.entries()].sort(([, a], [, b]) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** `catalogueOn`: the catalogue on the import's own transaction (the caller's, inside an audited change). */
export async function importPgFixture(
  db: PgRunner,
  content: unknown,
  now: Date,
  catalogueOn: (tx: PgRunner) => PgCatalogue = createPgCatalogue,
): Promise<ImportResult> {
  const { problemes, fixture } = fixtureProblems(await lookupFor(db, content), content);
  if (problemes.length > 0 || !fixture) return refused(problemes.length > 0 ? problemes : ['fichier invalide']);

  let where = '';
  try {
    await db.allOrNothing(async (tx) => {
      const catalogue = catalogueOn(tx);
      // Rows locked in key order, whatever the file's order: two imports (or an import and the
      // sales) never wait on each other in a circle.
      for (const [i, b] of byKey(fixture.boutiques, (b) => b.id)) {
        where = `boutiques[${i}]`;
        await catalogue.upsertBoutique(b);
      }
      for (const [i, t] of byKey(fixture.terminaux, (t) => t.serial)) {
        where = `terminaux[${i}]`;
        await catalogue.requireBoutique(t.boutique_id);
        await catalogue.upsertTerminal(t);
      }
      for (const [i, a] of byKey(fixture.articles, (a) => a.id)) {
        where = `articles[${i}]`;
        await catalogue.requireBoutique(a.boutique_id);
        await catalogue.upsertArticle(a, now);
      }
    });
  } catch (error) {
    // Checked above; kept for what changed in the database between the check and the write.
    if (error instanceof CatalogueError) return refused([`${where} : ${error.message}`]);
    throw error;
  }
  return { ok: true, boutiques: fixture.boutiques.length, terminaux: fixture.terminaux.length, articles: fixture.articles.length };
}
