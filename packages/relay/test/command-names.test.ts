import { describe, expect, it } from 'vitest';
import { commandNames } from '../src/command-names.js';

describe('commands named the way staff typed this one', () => {
  it('through pnpm from the repository (`pnpm relay …`)', () => {
    expect(commandNames({ npm_lifecycle_event: 'relay' })).toEqual({ relay: 'pnpm relay', server: 'pnpm run server' });
  });

  it('as the installed commands', () => {
    expect(commandNames({})).toEqual({ relay: 'ventesync-relay', server: 'ventesync-server' });
  });
});
