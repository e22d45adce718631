import { looselyProtected } from '@ventesync/runtime/sqlite';
import { readFileSync } from 'node:fs';
import { SECRET_LENGTH } from '@ventesync/shared';

/** A registered relay's identity on the server (CONTRACT §6). The secret is never logged or shown. */
export interface RelayCredentials {
  id: number;
  secret: string;
}

export type CredentialsResult =
  /** `avertissement`: the secret file is readable by other accounts of this machine (said, not refused). */
  | { ok: true; credentials: RelayCredentials | null; avertissement?: string }
  | { ok: false; erreur: string };

export const RELAY_ID_ENV = 'VENTESYNC_RELAY_ID';
export const RELAY_SECRET_FILE_ENV = 'VENTESYNC_RELAY_SECRET_FILE';
export const RELAY_SECRET_ENV = 'VENTESYNC_RELAY_SECRET';

/** The server's relay ids are small positive integers. */
const RELAY_ID_PATTERN = /^[1-9]\d{0,14}$/;
const SECRET_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${SECRET_LENGTH}}$`);
/** A secret file is one line; anything larger is not one (and is not read whole). */
const MAX_SECRET_FILE_BYTES = 1024;

const HOW = `donnez le secret imprimé par « ventesync-server relais add » (${SECRET_LENGTH} caractères), seul dans le fichier`;

/** Checks a secret's text; the message never contains it. */
function checkSecret(text: string, where: string): { ok: true; secret: string } | { ok: false; erreur: string } {
  const secret = text.replace(/\r?\n$/, '');
  if (secret.trim() === '') return { ok: false, erreur: `${where} est vide : ${HOW}` };
  if (!SECRET_PATTERN.test(secret)) {
    return { ok: false, erreur: `${where} ne contient pas un secret de relais valide (${SECRET_LENGTH} caractères base64url) : ${HOW}` };
  }
  return { ok: true, secret };
}

function readSecretFile(file: string): { ok: true; secret: string } | { ok: false; erreur: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') return { ok: false, erreur: `fichier du secret du relais introuvable : ${file}` };
    if (code === 'EACCES' || code === 'EPERM') return { ok: false, erreur: `fichier du secret du relais illisible (droits d'accès) : ${file}` };
    if (code === 'EISDIR') return { ok: false, erreur: `${file} est un dossier, pas le fichier du secret du relais` };
    return { ok: false, erreur: `fichier du secret du relais illisible (${code ?? 'erreur'}) : ${file}` };
  }
  if (bytes.length > MAX_SECRET_FILE_BYTES) return { ok: false, erreur: `le fichier ${file} est trop gros pour être un secret de relais : ${HOW}` };
  return checkSecret(bytes.toString('utf8'), `le fichier ${file}`);
}

/**
 * The relay's credentials from `--relay-id` / `--relay-secret-file`, else the environment
 * (`VENTESYNC_RELAY_ID`, `VENTESYNC_RELAY_SECRET_FILE` or `VENTESYNC_RELAY_SECRET`). Never a
 * secret on the command line, where `ps` shows it. Neither given: a relay without credentials
 * (as before, for tills without secrets). Half given, or a secret that is not one: an error.
 */
export function loadRelayCredentials(
  options: { relayId?: string | undefined; relaySecretFile?: string | undefined },
  env: Record<string, string | undefined> = process.env,
): CredentialsResult {
  const idText = options.relayId ?? env[RELAY_ID_ENV];
  const file = options.relaySecretFile ?? env[RELAY_SECRET_FILE_ENV];
  const inEnv = options.relaySecretFile === undefined ? env[RELAY_SECRET_ENV] : undefined;
  const hasSecret = file !== undefined || inEnv !== undefined;
  if (idText === undefined && !hasSecret) return { ok: true, credentials: null };
  if (idText === undefined) {
    return { ok: false, erreur: `secret du relais donné sans son identifiant : ajoutez --relay-id ID (ou ${RELAY_ID_ENV}), l'id imprimé par « ventesync-server relais add »` };
  }
  if (!RELAY_ID_PATTERN.test(idText.trim())) {
    return { ok: false, erreur: `--relay-id : identifiant de relais invalide « ${idText.slice(0, 20)} » (un nombre, celui imprimé par « ventesync-server relais add »)` };
  }
  if (!hasSecret) {
    return {
      ok: false,
      erreur: `--relay-id sans secret : ajoutez --relay-secret-file FICHIER (ou ${RELAY_SECRET_FILE_ENV}, ou ${RELAY_SECRET_ENV}) ; jamais le secret lui-même sur la ligne de commande`,
    };
  }
  const read = file !== undefined ? readSecretFile(file) : checkSecret(inEnv!, `la variable ${RELAY_SECRET_ENV}`);
  if (!read.ok) return read;
  const credentials = { id: Number(idText.trim()), secret: read.secret };
  // Readable by others, the secret lets anyone on this PC sign as the relay: said at start.
  const loose = file === undefined ? undefined : looselyProtected([file])[0];
  if (!loose) return { ok: true, credentials };
  return {
    ok: true,
    credentials,
    avertissement: `le fichier du secret du relais ${file} est accessible à d'autres comptes de cette machine (droits ${loose.mode}) : chmod 600 ${file}`,
  };
}
