import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveSecretsKey, openSecret, sealSecret } from '../src/secret-box.js';

const relaySecret = randomBytes(32).toString('base64url');
const tillSecret = randomBytes(32).toString('base64url');

describe('terminal secrets at rest', () => {
  it('opens with the key of the relay secret that sealed it, and the text holds no trace of the secret', () => {
    const key = deriveSecretsKey(relaySecret);
    const box = sealSecret(key, 'caisse-1', tillSecret);
    expect(box).not.toContain(tillSecret);
    expect(openSecret(deriveSecretsKey(relaySecret), 'caisse-1', box)).toBe(tillSecret);
    // Sealed twice, two different texts (a fresh IV each time).
    expect(sealSecret(key, 'caisse-1', tillSecret)).not.toBe(box);
  });

  it('does not open with another relay secret, for another serial, or altered', () => {
    const box = sealSecret(deriveSecretsKey(relaySecret), 'caisse-1', tillSecret);
    expect(openSecret(deriveSecretsKey(randomBytes(32).toString('base64url')), 'caisse-1', box)).toBeNull();
    expect(openSecret(deriveSecretsKey(relaySecret), 'caisse-2', box)).toBeNull();
    const bytes = Buffer.from(box, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    expect(openSecret(deriveSecretsKey(relaySecret), 'caisse-1', bytes.toString('base64url'))).toBeNull();
    expect(openSecret(deriveSecretsKey(relaySecret), 'caisse-1', 'court')).toBeNull();
  });
});
