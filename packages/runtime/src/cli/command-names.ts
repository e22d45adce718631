/**
 * Messages name commands that work as typed. Run through pnpm from the repository (the
 * README's way: `pnpm relay …`, `pnpm run server …`), they say `pnpm relay rejected` and
 * `pnpm run server stock add …`; run as installed commands, `ventesync-relay rejected` and
 * `ventesync-server stock add …`.
 */
export interface CommandNames {
  relay: string;
  server: string;
  /**
   * Options that chose the file the person works on (`--db data/autre.db`), added to every
   * command suggested for the relay so that it acts on that same file.
   */
  relayFile?: string;
}

/** The root package.json scripts that run the CLIs (`pnpm relay`, `pnpm run server`). */
const PNPM_SCRIPTS = new Set(['relay', 'server']);

export function commandNames(env: NodeJS.ProcessEnv = process.env): CommandNames {
  return PNPM_SCRIPTS.has(env.npm_lifecycle_event ?? '')
    ? { relay: 'pnpm relay', server: 'pnpm run server' }
    : { relay: 'ventesync-relay', server: 'ventesync-server' };
}

/** A relay command as a person types it, with the file options they used: `pnpm relay retry X --db f.db`. */
export function relayCommand(commands: CommandNames, args: string): string {
  return `${commands.relay} ${args}${commands.relayFile ? ` ${commands.relayFile}` : ''}`;
}

/** Quotes a value for a shell command line when it needs it. */
export function shellWord(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
