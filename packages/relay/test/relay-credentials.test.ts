import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRelayCredentials } from '../src/relay-credentials.js';

let dir: string;
const secret = randomBytes(32).toString('base64url');
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ventesync-cred-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};
const erreurOf = (r: ReturnType<typeof loadRelayCredentials>) => (r.ok ? null : r.erreur);

describe('relay credentials', () => {
  it('none given: a relay without credentials, as before', () => {
    expect(loadRelayCredentials({}, {})).toEqual({ ok: true, credentials: null });
  });

  it('reads the secret from its file, ending with a newline (LF or CRLF) or not', () => {
    for (const text of [secret, `${secret}\n`, `${secret}\r\n`]) {
      expect(loadRelayCredentials({ relayId: '3', relaySecretFile: file('s', text) }, {})).toEqual({ ok: true, credentials: { id: 3, secret } });
    }
  });

  it('a secret file readable by other accounts of the PC is taken, with a warning naming it and the command (the secret never in it)', () => {
    const path = file('ouvert', secret);
    expect(loadRelayCredentials({ relayId: '3', relaySecretFile: path }, {})).toEqual({ ok: true, credentials: { id: 3, secret } });
    chmodSync(path, 0o640);
    const loaded = loadRelayCredentials({ relayId: '3', relaySecretFile: path }, {});
    expect(loaded).toMatchObject({ ok: true, credentials: { id: 3, secret } });
    const warning = loaded.ok ? loaded.avertissement : undefined;
    expect(warning).toContain(`chmod 600 ${path}`);
    expect(warning).toContain('640');
    expect(warning).not.toContain(secret);
  });

  it('takes the environment: VENTESYNC_RELAY_ID with VENTESYNC_RELAY_SECRET_FILE or VENTESYNC_RELAY_SECRET', () => {
    const path = file('s', `${secret}\n`);
    expect(loadRelayCredentials({}, { VENTESYNC_RELAY_ID: '4', VENTESYNC_RELAY_SECRET_FILE: path })).toEqual({ ok: true, credentials: { id: 4, secret } });
    expect(loadRelayCredentials({}, { VENTESYNC_RELAY_ID: '4', VENTESYNC_RELAY_SECRET: secret })).toEqual({ ok: true, credentials: { id: 4, secret } });
    // The command line wins over the environment.
    expect(loadRelayCredentials({ relayId: '5' }, { VENTESYNC_RELAY_ID: '4', VENTESYNC_RELAY_SECRET: secret })).toEqual({ ok: true, credentials: { id: 5, secret } });
  });

  it('refuses a missing, unreadable, empty or malformed file in French, never quoting what it holds', () => {
    expect(erreurOf(loadRelayCredentials({ relayId: '1', relaySecretFile: join(dir, 'absent') }, {}))).toContain('introuvable');
    expect(erreurOf(loadRelayCredentials({ relayId: '1', relaySecretFile: dir }, {}))).toContain('dossier');
    expect(erreurOf(loadRelayCredentials({ relayId: '1', relaySecretFile: file('vide', '') }, {}))).toContain('est vide');
    expect(erreurOf(loadRelayCredentials({ relayId: '1', relaySecretFile: file('blanc', '\n') }, {}))).toContain('est vide');
    const almost = `${secret.slice(0, 42)}!`;
    const bad = erreurOf(loadRelayCredentials({ relayId: '1', relaySecretFile: file('mauvais', almost) }, {}));
    expect(bad).toContain('ne contient pas un secret de relais valide');
    expect(bad).not.toContain(almost);
    expect(erreurOf(loadRelayCredentials({ relayId: '1', relaySecretFile: file('deux', `${secret}\n${secret}\n`) }, {}))).toContain('ne contient pas');
    expect(erreurOf(loadRelayCredentials({ relayId: '1', relaySecretFile: file('gros', 'x'.repeat(5000)) }, {}))).toContain('trop gros');
  });

  it('refuses half the credentials, or an id that is not one', () => {
    expect(erreurOf(loadRelayCredentials({ relayId: '1' }, {}))).toContain('--relay-secret-file');
    expect(erreurOf(loadRelayCredentials({}, { VENTESYNC_RELAY_SECRET: secret }))).toContain('--relay-id');
    expect(erreurOf(loadRelayCredentials({ relayId: 'abc' }, { VENTESYNC_RELAY_SECRET: secret }))).toContain('identifiant de relais invalide');
    expect(erreurOf(loadRelayCredentials({ relayId: '0' }, { VENTESYNC_RELAY_SECRET: secret }))).toContain('invalide');
  });
});
