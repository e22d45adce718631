/**
 * Messages name commands that work as typed. Run as `pnpm relay …` (the README's way, from the
 * repository), they say `pnpm relay rejected` and `pnpm run server …`; run as an installed
 * command, they say `ventesync-relay rejected` and `ventesync-server …`.
 */
export interface CommandNames {
  relay: string;
  server: string;
}

export function commandNames(env: NodeJS.ProcessEnv = process.env): CommandNames {
  return env.npm_lifecycle_event === 'relay'
    ? { relay: 'pnpm relay', server: 'pnpm run server' }
    : { relay: 'ventesync-relay', server: 'ventesync-server' };
}
