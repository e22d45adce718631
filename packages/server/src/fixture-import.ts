import { describeFixtureIssues, type Fixture, FixtureSchema } from '@ventesync/shared';
import { CatalogueError, type CatalogueStore } from './catalogue-store.js';
import type { Db } from './db/open-database.js';

export type ImportResult =
  | { ok: true; boutiques: number; terminaux: number; articles: number }
  | { ok: false; erreur: string };

/** Loads a fixture (insert or update by id / serial), all or nothing. */
export function importFixture(db: Db, catalogue: CatalogueStore, content: unknown, now: Date): ImportResult {
  const parsed = FixtureSchema.safeParse(content, { reportInput: true });
  if (!parsed.success) return { ok: false, erreur: describeFixtureIssues(parsed.error) };
  const fixture: Fixture = parsed.data;

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
    if (error instanceof CatalogueError) return { ok: false, erreur: `${where} : ${error.message}` };
    throw error;
  }
  return {
    ok: true,
    boutiques: fixture.boutiques.length,
    terminaux: fixture.terminaux.length,
    articles: fixture.articles.length,
  };
}
