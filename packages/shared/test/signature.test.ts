import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newSecret, parseSignatureHeader, signatureHeader, signatureMatches } from '../src/signature.js';

// Written from the text of CONTRACT §6, independently of src/signature.ts.
function independentV1(secret: string, t: number, method: string, path: string, body: string): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${path}.${bodyHash}`).digest('hex');
}

const NOW = 1_764_000_000;

describe('request signatures (CONTRACT §6)', () => {
  it('issues 43-character base64url secrets without padding, different each time', () => {
    const a = newSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(newSecret()).not.toBe(a);
  });

  it('signs exactly as the contract says, empty body hashing the empty string', () => {
    const secret = newSecret();
    const body = '[{"numero_facture":"FAC-é1"}]';
    expect(signatureHeader(secret, NOW, 'POST', '/api/v2/simple/ventes/sync', Buffer.from(body))).toBe(
      `t=${NOW},v1=${independentV1(secret, NOW, 'POST', '/api/v2/simple/ventes/sync', body)}`,
    );
    expect(signatureHeader(secret, NOW, 'GET', '/api/v2/simple/historique?limit=5')).toBe(
      `t=${NOW},v1=${independentV1(secret, NOW, 'GET', '/api/v2/simple/historique?limit=5', '')}`,
    );
  });

  it('accepts a matching signature and refuses one made with another key', () => {
    const secret = newSecret();
    const v1 = independentV1(secret, NOW, 'GET', '/x', '');
    const parsed = parseSignatureHeader(`t=${NOW},v1=${v1.toUpperCase()}`, NOW);
    if (!parsed.ok) throw new Error(parsed.reason);
    const empty = createHash('sha256').update('').digest('hex');
    expect(signatureMatches(secret, parsed.signature, 'GET', '/x', empty)).toBe(true);
    expect(signatureMatches(newSecret(), parsed.signature, 'GET', '/x', empty)).toBe(false);
    expect(signatureMatches(secret, parsed.signature, 'GET', '/x?', empty)).toBe(false);
  });

  it.each([
    ['several headers', ['t=1,v1=aa', 't=1,v1=aa']],
    ['no v1', `t=${NOW}`],
    ['no t', `v1=${'a'.repeat(64)}`],
    ['a repeated key', `t=${NOW},t=${NOW},v1=${'a'.repeat(64)}`],
    ['an extra key', `t=${NOW},v1=${'a'.repeat(64)},v0=1`],
    ['bad hex', `t=${NOW},v1=${'g'.repeat(64)}`],
    ['wrong hex length', `t=${NOW},v1=${'a'.repeat(62)}`],
    ['a non-numeric t', `t=abc,v1=${'a'.repeat(64)}`],
    ['a negative t', `t=-${NOW},v1=${'a'.repeat(64)}`],
    ['a huge t', `t=${'9'.repeat(40)},v1=${'a'.repeat(64)}`],
    ['a huge header', `t=${NOW},v1=${'a'.repeat(5000)}`],
    ['no equals sign', 'garbage'],
  ])('refuses %s as INVALID_SIGNATURE', (_name, header) => {
    expect(parseSignatureHeader(header, NOW)).toMatchObject({ ok: false, code: 'INVALID_SIGNATURE' });
  });

  it('says SIGNATURE_REQUIRED without a header and SIGNATURE_EXPIRED beyond 300 s either way', () => {
    const v1 = 'a'.repeat(64);
    expect(parseSignatureHeader(undefined, NOW)).toMatchObject({ ok: false, code: 'SIGNATURE_REQUIRED' });
    expect(parseSignatureHeader(`t=${NOW - 301},v1=${v1}`, NOW)).toMatchObject({ ok: false, code: 'SIGNATURE_EXPIRED' });
    expect(parseSignatureHeader(`t=${NOW + 301},v1=${v1}`, NOW)).toMatchObject({ ok: false, code: 'SIGNATURE_EXPIRED' });
    expect(parseSignatureHeader(`t=${NOW - 300},v1=${v1}`, NOW)).toMatchObject({ ok: true });
    expect(parseSignatureHeader(`t=${NOW + 300},v1=${v1}`, NOW)).toMatchObject({ ok: true });
  });
});
