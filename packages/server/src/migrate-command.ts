import { onlyOnce, printList } from '@ventesync/runtime/cli';
import { type Command, InvalidArgumentError } from 'commander';
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { openDatabase } from './db/open-database.js';
import { CopyRefused, copySqliteToPg } from './postgres/copy-from-sqlite.js';
import { openPgPool, PgConnectError } from './postgres/pg-connect.js';
import { migratePg } from './postgres/pg-migrations.js';
import { explainStorageError, isPostgresUrl } from './storage/open-storage.js';

/** What the command borrows from the CLI, so that it fails like the others. */
export interface MigrateCliTools {
  server: string;
  fail: (message: string) => void;
}

/**
 * `migrate --from FILE --to URL`: a SQLite database copied into an empty PostgreSQL one (see
 * postgres/copy-from-sqlite.ts), then the rows counted on both sides. Never the other way, never
 * into a database that already holds data: a chain moves once, when it outgrows one machine.
 */
export function addMigrateCommand(program: Command, tools: MigrateCliTools): void {
  program
    .command('migrate')
    .description('copie une base SQLite dans une base PostgreSQL vide, tout ou rien, puis compare les nombres de lignes')
    .requiredOption('--from <fichier>', 'la base SQLite à copier (mise au schéma de cette version si elle est plus ancienne)', onlyOnce(InvalidArgumentError))
    .requiredOption('--to <url>', 'la base PostgreSQL de destination, vide (postgres://utilisateur:motdepasse@hôte:port/base)', onlyOnce(InvalidArgumentError))
    .option('--json', 'sortie JSON (les nombres de lignes par table)', false)
    .addHelpText(
      'after',
      '\nArrêtez d’abord le serveur qui écrit dans le fichier : les ventes reçues pendant la copie n’y seraient pas.' +
        '\nLe schéma PostgreSQL est créé s’il manque ; une base qui contient déjà des données est refusée.' +
        `\n\nExemple :\n  $ ${tools.server} migrate --from ./data/ventesync.db --to postgres://ventesync@db.interne:5432/ventesync`,
    )
    .action(async (opts: { from: string; to: string; json: boolean }) => {
      if (isPostgresUrl(opts.from)) return tools.fail('--from attend un fichier SQLite, --to l’URL PostgreSQL');
      if (!isPostgresUrl(opts.to)) return tools.fail(`--to attend une URL postgres://… (reçu « ${opts.to} »)`);
      // openDatabase would make an empty file: a mistyped path must not copy nothing successfully.
      if (!existsSync(opts.from)) return tools.fail(`le fichier ${opts.from} n’existe pas`);
      const notVentesync = notAVentesyncDatabase(opts.from);
      if (notVentesync !== null) return tools.fail(notVentesync);
      let connection: Awaited<ReturnType<typeof openPgPool>>;
      try {
        connection = await openPgPool(opts.to);
      } catch (error) {
        if (error instanceof PgConnectError) return tools.fail(error.message);
        throw error;
      }
      let source: ReturnType<typeof openDatabase> | undefined;
      try {
        await migratePg(connection.pool, connection.where);
        try {
          source = openDatabase(opts.from);
        } catch (error) {
          return tools.fail(`base ${opts.from} : ${explainStorageError(error)}`);
        }
        const result = await copySqliteToPg(source, connection.pool, connection.where);
        if (!result.ok) return tools.fail(result.erreur);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ copie: 'terminee', tables: result.counts }, null, 2)}\n`);
          return;
        }
        printList(result.counts, false, [
          ['table', 'TABLE'],
          ['sqlite', 'SQLITE'],
          ['postgres', 'POSTGRESQL'],
        ]);
        const rows = result.counts.reduce((sum, c) => sum + c.postgres, 0);
        process.stdout.write(`Copie terminée : ${rows} lignes, les mêmes nombres des deux côtés. Démarrez le serveur avec --db et l’URL donnée à --to.\n`);
      } catch (error) {
        if (error instanceof PgConnectError || error instanceof CopyRefused) return tools.fail(error.message);
        throw error;
      } finally {
        source?.close();
        await connection.close();
      }
    });
}

/**
 * Why `file` is not a ventesync SQLite database (a 0-byte file, another program's database, a
 * text file), or null when it is one: read only, nothing written. An empty copy announced as a
 * success would let an operator believe the chain moved.
 */
function notAVentesyncDatabase(file: string): string | null {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const version = db.pragma('user_version', { simple: true }) as number;
    const hasSales = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ventes'").get() !== undefined;
    return version > 0 && hasSales ? null : `${file} n’est pas une base ventesync (aucune table de ventes) : rien n’a été copié`;
  } catch (error) {
    return `base ${file} : ${explainStorageError(error)}`;
  } finally {
    db?.close();
  }
}
