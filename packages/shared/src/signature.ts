import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * CONTRACT §6, the rule itself, shared by the server and the relay so both check exactly the
 * same thing: `X-Signature: t=<unix seconds>,v1=<hex>` where
 * v1 = hex(HMAC-SHA256(secret as UTF-8, "<t>.<METHOD>.<path and query as sent>.<hex sha256(body)>")).
 */
export const SIGNATURE_HEADER = 'X-Signature';
export const RELAY_ID_HEADER = 'X-Relay-Id';
/** How far `t` may be from the checker's clock, either way; also how long a v1 is remembered. */
export const SIGNATURE_WINDOW_SECONDS = 300;
/** 32 random bytes as base64url without padding. */
export const SECRET_BYTES = 32;
export const SECRET_LENGTH = 43;
/** A header longer than this is refused before any parsing: a valid one is about 80 characters. */
export const MAX_SIGNATURE_HEADER_LENGTH = 200;
const V1_HEX_LENGTH = 64;
/** Ten digits are enough for any `t` within the window until the year 2286. */
const MAX_T_DIGITS = 10;

/** The hex SHA-256 of the empty body: what a request with no body signs. */
export const EMPTY_BODY_SHA256 = createHash('sha256').update('').digest('hex');

export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

export function bodySha256(body: Uint8Array | undefined): string {
  return body && body.length > 0 ? createHash('sha256').update(body).digest('hex') : EMPTY_BODY_SHA256;
}

export function signatureMessage(t: number, method: string, pathAndQuery: string, bodyHashHex: string): string {
  return `${t}.${method}.${pathAndQuery}.${bodyHashHex}`;
}

/** hex(HMAC-SHA256), lowercase. */
export function computeV1(secret: string, t: number, method: string, pathAndQuery: string, bodyHashHex: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(signatureMessage(t, method, pathAndQuery, bodyHashHex))
    .digest('hex');
}

/** The header a client sends (the relay's forwarding, tests). */
export function signatureHeader(secret: string, t: number, method: string, pathAndQuery: string, body?: Uint8Array): string {
  return `t=${t},v1=${computeV1(secret, t, method, pathAndQuery, bodySha256(body))}`;
}

export type SignatureRefusal = 'SIGNATURE_REQUIRED' | 'INVALID_SIGNATURE' | 'SIGNATURE_EXPIRED';

export interface ParsedSignature {
  t: number;
  v1: string;
}

/** What is wrong with a header, in words a till developer can act on (never its value). */
export type ParseResult = { ok: true; signature: ParsedSignature } | { ok: false; code: SignatureRefusal; reason: string };

/**
 * Parses the header strictly (exactly `t` and `v1`, once each, decimal `t`, 64 lowercase or
 * uppercase hex digits) and checks `t` against the clock. Several headers (an array) are refused:
 * a proxy joining them would make the signed request ambiguous.
 */
export function parseSignatureHeader(raw: string | string[] | undefined, nowSeconds: number): ParseResult {
  if (raw === undefined) return { ok: false, code: 'SIGNATURE_REQUIRED', reason: `header ${SIGNATURE_HEADER} absent` };
  if (Array.isArray(raw)) return { ok: false, code: 'INVALID_SIGNATURE', reason: `plusieurs headers ${SIGNATURE_HEADER}` };
  if (raw.length > MAX_SIGNATURE_HEADER_LENGTH) {
    return { ok: false, code: 'INVALID_SIGNATURE', reason: `header ${SIGNATURE_HEADER} trop long` };
  }
  const fields = new Map<string, string>();
  for (const part of raw.trim().split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return { ok: false, code: 'INVALID_SIGNATURE', reason: 'format attendu : t=<secondes>,v1=<hex>' };
    const key = part.slice(0, eq).trim();
    if (fields.has(key)) return { ok: false, code: 'INVALID_SIGNATURE', reason: `clé « ${key.slice(0, 10)} » répétée` };
    fields.set(key, part.slice(eq + 1).trim());
  }
  const t = fields.get('t');
  const v1 = fields.get('v1');
  if (fields.size !== 2 || t === undefined || v1 === undefined) {
    return { ok: false, code: 'INVALID_SIGNATURE', reason: 'format attendu : t=<secondes>,v1=<hex>' };
  }
  if (!/^\d+$/.test(t) || t.length > MAX_T_DIGITS) {
    return { ok: false, code: 'INVALID_SIGNATURE', reason: 't doit être un nombre de secondes (temps Unix)' };
  }
  if (v1.length !== V1_HEX_LENGTH || !/^[0-9a-fA-F]+$/.test(v1)) {
    return { ok: false, code: 'INVALID_SIGNATURE', reason: `v1 doit faire ${V1_HEX_LENGTH} chiffres hexadécimaux` };
  }
  const seconds = Number(t);
  if (Math.abs(seconds - nowSeconds) > SIGNATURE_WINDOW_SECONDS) {
    return {
      ok: false,
      code: 'SIGNATURE_EXPIRED',
      reason: `t est à plus de ${SIGNATURE_WINDOW_SECONDS} s de l’heure du serveur : réglez l’horloge de l’appareil`,
    };
  }
  return { ok: true, signature: { t: seconds, v1: v1.toLowerCase() } };
}

/** Compares in constant time: both are 32 bytes once decoded (the header was checked). */
export function signatureMatches(
  secret: string,
  signature: ParsedSignature,
  method: string,
  pathAndQuery: string,
  bodyHashHex: string,
): boolean {
  const expected = Buffer.from(computeV1(secret, signature.t, method, pathAndQuery, bodyHashHex), 'hex');
  const given = Buffer.from(signature.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** CONTRACT §6, for registered relays only: the terminals of the relay's boutiques, with their secrets. */
export const RELAY_TERMINALS_PATH = '/api/v2/simple/relais/terminaux/';
/**
 * On every answer to a relay-signed request: the version of that relay's terminals' list. A
 * relay holding another version fetches the list again (a secret was issued or rotated).
 */
export const RELAY_TERMINALS_VERSION_HEADER = 'X-Relais-Terminaux-Version';
