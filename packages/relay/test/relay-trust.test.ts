import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamAnswer } from '../src/classify.js';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayStore } from '../src/relay-store.js';
import { createRelayTrust, DOOR_RETRY_AFTER_SECONDS, DOOR_SHUT_KEY, NO_LIST_MESSAGE, UNKNOWN_SERIAL_REFRESH_EVERY_MS } from '../src/relay-trust.js';
import type { Upstream } from '../src/upstream.js';

const secret = () => randomBytes(32).toString('base64url');
const relay = { id: 1, secret: secret() };
const tillSecret = secret();
const quiet = { info() {}, warn() {} };

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ventesync-trust-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const list = (version: string, terminaux: Array<{ serial: string; secret: string | null; actif?: boolean }>, required = false): UpstreamAnswer => ({
  kind: 'response',
  status: 200,
  retryAfterMs: null,
  body: { success: true, relais_id: 1, signatures_requises: required, version, terminaux: terminaux.map((t) => ({ boutique_id: 2, actif: true, ...t })) },
});

/** The server as a script of answers to the list request; the last one repeats. */
function setup(answers: UpstreamAnswer[], credentials: typeof relay | null = relay, file = join(dir, 'relay.db')) {
  const db = openDatabase(file);
  const store = createRelayStore(db);
  let calls = 0;
  const upstream = { getRelayTerminals: async () => answers[Math.min(calls++, answers.length - 1)]! } as unknown as Upstream;
  const trust = createRelayTrust({ db, store, upstream, credentials, logger: quiet, nowMs: () => Date.now() });
  return { trust, db, calls: () => calls };
}

describe('relay trust', () => {
  it('a till with a secret must sign with it; one without is served unless the server requires signatures', async () => {
    const { trust, db } = setup([list('v1', [{ serial: 'signee', secret: tillSecret }, { serial: 'ancienne', secret: null }])]);
    expect(await trust.refresh()).toBe('ok');
    expect(trust.demand('signee')).toEqual({ key: tillSecret });
    expect(trust.demand('ancienne')).toBeNull();
    db.close();
    const required = setup([list('v2', [{ serial: 'ancienne', secret: null }], true)], relay, join(dir, 'autre.db'));
    await required.trust.refresh();
    expect(required.trust.demand('ancienne')).toMatchObject({ code: 'SIGNATURE_REQUIRED' });
    required.db.close();
  });

  it('keeps the list across a restart, only for the same relay secret', async () => {
    const file = join(dir, 'relay.db');
    const first = setup([list('v1', [{ serial: 'signee', secret: tillSecret }])], relay, file);
    await first.trust.refresh();
    first.db.close();
    const again = setup([{ kind: 'network-error', reason: 'away' }], relay, file);
    expect(again.trust.hasList()).toBe(true);
    expect(again.trust.demand('signee')).toEqual({ key: tillSecret });
    again.db.close();
    // The relay's secret rotated: the old list does not open; it waits for the server's.
    const rotated = setup([{ kind: 'network-error', reason: 'away' }], { id: 1, secret: secret() }, file);
    expect(rotated.trust.hasList()).toBe(false);
    rotated.db.close();
  });

  it('an unlisted serial is never admitted: 404 after a refresh the server answered, 503 (the till retries) when the server cannot be asked', async () => {
    const reachable = setup([list('v1', [{ serial: 'signee', secret: tillSecret }])]);
    await reachable.trust.refresh();
    expect(await reachable.trust.admit('inconnue')).toEqual({ kind: 'not-found' });
    expect(reachable.calls()).toBe(1); // the list was just received: its absence is the server's word
    expect(await reachable.trust.admit('signee')).toEqual({ kind: 'admitted' });
    reachable.db.close();

    // The server goes away after the list: an unlisted serial waits, however often it is tried.
    const away = setup([list('v1', [{ serial: 'signee', secret: tillSecret }]), { kind: 'network-error', reason: 'away' }], relay, join(dir, 'b.db'));
    await away.trust.refresh();
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(now + UNKNOWN_SERIAL_REFRESH_EVERY_MS); // past the throttle: a refresh is tried, and fails
      expect(await away.trust.admit('inconnue')).toMatchObject({ kind: 'wait', retryAfterSeconds: DOOR_RETRY_AFTER_SECONDS });
      expect(away.calls()).toBe(2);
      clock.mockReturnValue(now + UNKNOWN_SERIAL_REFRESH_EVERY_MS + 1); // throttled: no refresh, still not admitted
      expect(await away.trust.admit('inconnue')).toMatchObject({ kind: 'wait' });
      expect(away.calls()).toBe(2);
      expect(await away.trust.admit('signee')).toEqual({ kind: 'admitted' });
    } finally {
      clock.mockRestore();
    }
    away.db.close();
  });

  it('with credentials and no list (server never reached, or the kept list sealed with a rotated relay secret), every till waits (503) and the list is asked again', async () => {
    const never = setup([{ kind: 'network-error', reason: 'away' }, list('v1', [{ serial: 'signee', secret: tillSecret }])]);
    const shut = await never.trust.admit('signee');
    expect(shut).toMatchObject({ kind: 'wait', retryAfterSeconds: DOOR_RETRY_AFTER_SECONDS });
    expect(shut.kind === 'wait' && shut.message).toContain(NO_LIST_MESSAGE);
    expect(never.calls()).toBe(1);
    expect(JSON.parse(createRelayStore(never.db).getEtat(DOOR_SHUT_KEY)!)).toMatchObject({ message: NO_LIST_MESSAGE });
    // The server answers at last: the door opens, on the server's word.
    expect(await never.trust.refresh()).toBe('ok');
    expect(await never.trust.admit('signee')).toEqual({ kind: 'admitted' });
    expect(createRelayStore(never.db).getEtat(DOOR_SHUT_KEY)).toBeNull();
    never.db.close();

    const file = join(dir, 'rotated.db');
    const first = setup([list('v1', [{ serial: 'signee', secret: tillSecret }])], relay, file);
    await first.trust.refresh();
    first.db.close();
    const rotated = setup([{ kind: 'network-error', reason: 'away' }], { id: 1, secret: secret() }, file);
    expect(await rotated.trust.admit('signee')).toMatchObject({ kind: 'wait' });
    rotated.db.close();
  });

  it('a listed inactive terminal is refused; a newly listed one is admitted after the refresh', async () => {
    const { trust, db } = setup([
      list('v1', [{ serial: 'inactive', secret: null, actif: false }]),
      list('v2', [{ serial: 'inactive', secret: null, actif: false }, { serial: 'nouvelle', secret: null }]),
    ]);
    await trust.refresh();
    expect(await trust.admit('inactive')).toEqual({ kind: 'not-found' });
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + UNKNOWN_SERIAL_REFRESH_EVERY_MS);
    try {
      expect(await trust.admit('nouvelle')).toEqual({ kind: 'admitted' });
    } finally {
      clock.mockRestore();
    }
    expect(trust.version()).toBe('v2');
    db.close();
  });

  it('without credentials: no list, every till served as before', async () => {
    const { trust, db, calls } = setup([list('v1', [])], null);
    expect(await trust.refresh()).toBe('none');
    expect(calls()).toBe(0);
    expect(await trust.admit('x')).toEqual({ kind: 'admitted' });
    expect(trust.demand('x')).toBeNull();
    db.close();
  });
});
