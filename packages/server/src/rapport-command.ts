import { onlyOnce } from '@ventesync/runtime/cli';
import { type Command, InvalidArgumentError, type Option } from 'commander';
import { formatRapport } from './rapport.js';
import type { Storage } from './storage/storage.js';

/** What the command borrows from the CLI, so that it opens, reports and fails like the others. */
export interface RapportCliTools {
  server: string;
  dbOption: () => Option;
  boutiqueId: (text: string) => number;
  withStorage: (target: string, run: (storage: Storage) => Promise<void>) => Promise<void>;
  fail: (message: string) => void;
}

/** `rapport --boutique ID [--jour AAAA-MM-JJ] [--json]`: the daily close. */
export function addRapportCommand(program: Command, tools: RapportCliTools): void {
  program
    .command('rapport')
    .description('rapport de caisse du jour (jour local de la boutique) : ventes, retours, paiements, impayés, par caisse')
    .requiredOption('--boutique <id>', 'boutique', onlyOnce(InvalidArgumentError, tools.boutiqueId))
    .option('--jour <AAAA-MM-JJ>', 'le jour local de la boutique (défaut : aujourd’hui, dans son fuseau)', onlyOnce(InvalidArgumentError))
    .option('--json', 'sortie JSON (montants en texte, "40000.00")', false)
    .addOption(tools.dbOption())
    .addHelpText(
      'after',
      '\nPar caisse puis pour la boutique : nombre de ventes et de retours, montants par mode de paiement' +
        '\n(NET = ventes - retours), ventes non payées (paye: false ; comprises dans les montants), premier et' +
        '\ndernier ticket à l’heure locale. Une caisse active qui n’a rien envoyé est listée avec zéro.' +
        `\n\nExemples :\n  $ ${tools.server} rapport --boutique 2\n  $ ${tools.server} rapport --boutique 2 --jour 2025-10-29 --json`,
    )
    .action(async (opts: { boutique: number; jour?: string; json: boolean; db: string }) =>
      tools.withStorage(opts.db, async (storage) => {
        const result = await storage.reader.rapport(opts.boutique, opts.jour, new Date());
        if (!result.ok) return tools.fail(result.erreur);
        process.stdout.write(`${opts.json ? JSON.stringify(result.rapport, null, 2) : formatRapport(result.rapport)}\n`);
      }),
    );
}
