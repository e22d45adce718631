/**
 * The relay stores what went wrong as it happened (errno codes included: support needs them);
 * staff read it in words. `--json` keeps the stored text as `detail`.
 */
const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'le serveur ne répond pas (connexion refusée)',
  ECONNRESET: 'la connexion au serveur a été coupée',
  UND_ERR_SOCKET: 'la connexion au serveur a été coupée',
  UND_ERR_CLOSED: 'la connexion au serveur a été coupée',
  EPIPE: 'la connexion au serveur a été coupée',
  ETIMEDOUT: 'le serveur ne répond pas (délai de connexion dépassé)',
  UND_ERR_CONNECT_TIMEOUT: 'le serveur ne répond pas (délai de connexion dépassé)',
  UND_ERR_HEADERS_TIMEOUT: "le serveur n'a pas répondu à temps",
  UND_ERR_BODY_TIMEOUT: "le serveur n'a pas répondu à temps",
  ENOTFOUND: 'adresse du serveur introuvable (nom inconnu, ou pas de réseau)',
  EAI_AGAIN: 'adresse du serveur introuvable (nom inconnu, ou pas de réseau)',
  EHOSTUNREACH: 'le serveur est hors de portée (réseau coupé ?)',
  ENETUNREACH: "pas de réseau vers le serveur (câble, Wi-Fi ou box ?)",
  EHOSTDOWN: 'le serveur est hors de portée (réseau coupé ?)',
  UND_ERR_ABORTED: "envoi interrompu (arrêt du relais)",
  ABORT_ERR: "envoi interrompu (arrêt du relais)",
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'réponse du serveur incomplète',
};

const HTTP_STATUSES: Record<number, string> = {
  500: 'erreur interne du serveur',
  502: 'le serveur est injoignable derrière son proxy',
  503: 'le serveur est occupé ou en maintenance',
  504: "le serveur n'a pas répondu à temps (proxy)",
  429: 'le serveur demande de ralentir',
};

/** Words for a stored error text; text that is already plain French is kept as it is. */
export function describeError(raw: string | null | undefined): string {
  if (!raw) return '';
  const network = /^Serveur injoignable \(([A-Z_]+)/.exec(raw);
  if (network) return NETWORK_CODES[network[1]!] ?? 'le serveur ne répond pas';
  const status = /^Réponse (\d{3}) du serveur(?: : (.*))?$/s.exec(raw);
  if (status) {
    const words = HTTP_STATUSES[Number(status[1])];
    if (words) return `${words} (${status[1]})${status[2] && !/^[A-Z_]+$/.test(status[2]) ? ` : ${status[2]}` : ''}`;
  }
  return raw;
}
