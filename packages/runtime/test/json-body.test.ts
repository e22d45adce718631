import { describe, expect, it } from 'vitest';
import { clientError } from '../src/http/error-handler.js';
import { checkRawBody } from '../src/http/json-body.js';
import { listening } from './http-test-server.js';

async function post(url: string, body: Buffer) {
  const res = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('JSON body', () => {
  it('accented numeros sent in UTF-8 arrive as sent', async () => {
    const { url } = await listening();
    const answer = await post(url, Buffer.from('[{"numero_facture":"FAC-é1"}]', 'utf8'));
    expect(answer).toEqual({ status: 200, body: { received: [{ numero_facture: 'FAC-é1' }] } });
  });

  it('a body in Latin-1 is refused as INVALID_JSON saying it is not UTF-8, never read as U+FFFD', async () => {
    const { url } = await listening();
    for (const accent of ['é', 'è']) {
      const answer = await post(url, Buffer.from(`[{"numero_facture":"FAC-${accent}1"}]`, 'latin1'));
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ code: 'INVALID_JSON', error: expect.stringContaining('UTF-8') });
    }
  });

  it('a UTF-8 body starting with a byte-order mark is read', async () => {
    const { url } = await listening();
    const answer = await post(url, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[1]')]));
    expect(answer).toEqual({ status: 200, body: { received: [1] } });
  });

  it('an encoded lone surrogate (CESU bytes) is not UTF-8 either', async () => {
    const { url } = await listening();
    const answer = await post(url, Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'INVALID_JSON' });
  });

  it('a raw-body check (a signature) sees the bytes exactly as sent, before parsing, and its refusal stops the request', async () => {
    const seen: string[] = [];
    const { url } = await listening({}, false, (server) => {
      server.addHook('onRequest', async (request) => {
        checkRawBody(request, (body) => {
          seen.push(body.toString('latin1'));
          return body.includes('refuse') ? clientError('INVALID_SIGNATURE', 'Signature invalide') : null;
        });
      });
    });
    const latin1 = Buffer.from('["é"]', 'latin1');
    expect((await post(url, latin1)).body).toMatchObject({ code: 'INVALID_JSON' });
    expect(seen).toEqual([latin1.toString('latin1')]);
    const refused = await post(url, Buffer.from('[not json, refuse'));
    expect(refused).toEqual({ status: 401, body: { code: 'INVALID_SIGNATURE', error: 'Signature invalide' } });
    expect((await post(url, Buffer.from('[1]'))).body).toEqual({ received: [1] });
  });
});
