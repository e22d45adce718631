import { describe, expect, it } from 'vitest';
import { commandNames, relayCommand } from '../src/cli/command-names.js';

describe('commands named the way staff typed this one', () => {
  it('through pnpm from the repository (`pnpm relay …`, `pnpm run server …`)', () => {
    expect(commandNames({ npm_lifecycle_event: 'relay' })).toEqual({ relay: 'pnpm relay', server: 'pnpm run server' });
    expect(commandNames({ npm_lifecycle_event: 'server' })).toEqual({ relay: 'pnpm relay', server: 'pnpm run server' });
  });

  it('as the installed commands', () => {
    expect(commandNames({})).toEqual({ relay: 'ventesync-relay', server: 'ventesync-server' });
  });

  it('a suggested relay command keeps the file the person chose', () => {
    expect(relayCommand({ relay: 'pnpm relay', server: 'pnpm run server', relayFile: '--db data/autre.db' }, 'retry A')).toBe(
      'pnpm relay retry A --db data/autre.db',
    );
    expect(relayCommand({ relay: 'pnpm relay', server: 'pnpm run server' }, 'retry A')).toBe('pnpm relay retry A');
  });
});
