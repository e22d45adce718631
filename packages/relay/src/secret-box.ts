import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The terminals' secrets the relay keeps in its file, encrypted at rest (AES-256-GCM) with a key
 * derived (HKDF-SHA256) from the relay's own secret, which is never in the file: a copy of the
 * relay's file alone does not let anyone sign as a till. Each secret is bound to its serial
 * (additional data): moving a row to another serial does not decrypt.
 */
const SALT = Buffer.from('ventesync relais', 'utf8');
const INFO = Buffer.from('secrets des terminaux v1', 'utf8');
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function deriveSecretsKey(relaySecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(relaySecret, 'utf8'), SALT, INFO, KEY_BYTES));
}

/** base64url(iv ‖ tag ‖ ciphertext). */
export function sealSecret(key: Buffer, serial: string, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(serial, 'utf8'));
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The secret, or null when it does not open with this key (another relay's secret, a changed row). */
export function openSecret(key: Buffer, serial: string, box: string): string | null {
  try {
    const bytes = Buffer.from(box, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return null;
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(serial, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
