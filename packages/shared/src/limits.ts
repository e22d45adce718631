export const SERIAL_HEADER = 'X-Device-Serial';
export const SYNC_PATH = '/api/v2/simple/ventes/sync/';
export const ARTICLES_PATH = '/api/v2/simple/articles/';
export const HISTORIQUE_PATH = '/api/v2/simple/ventes/historique/';
export const STATISTIQUES_PATH = '/api/v2/simple/statistiques/';

export const MAX_VENTES_PER_REQUEST = 500;
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
export const MAX_LIGNES_PER_VENTE = 1000;
export const MAX_NUMERO_LENGTH = 64;

/** What one refused sale may report: a few issues, each bounded (see describeIssues). */
export const MAX_ISSUES_PER_VENTE = 5;
export const MAX_ISSUE_LENGTH = 160;
export const MAX_QUOTED_INPUT_LENGTH = 40;
/**
 * The most a sync answer may weigh, whatever the request: beyond it, created sales stop
 * detailing their lines (see buildSyncAnswer). 64 KiB under 1 MiB for the envelope.
 */
export const MAX_SYNC_ANSWER_BYTES = 1024 * 1024 - 64 * 1024;
