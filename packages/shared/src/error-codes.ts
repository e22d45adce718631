/**
 * The one vocabulary of error codes. Programs branch on `code`, never on the French `error`.
 * Request-level codes fail the whole request; sale-level codes reject one sale of a batch.
 */
export const REQUEST_ERROR_STATUS = {
  MISSING_SERIAL: 400,
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_FORMAT: 400,
  INVALID_QUERY: 400,
  TERMINAL_NOT_FOUND: 404,
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  UPSTREAM_UNAVAILABLE: 503,
  /** Shedding load (memory, event loop): try again after `Retry-After`. */
  OVERLOADED: 503,
  /** `/health`: the database does not answer, or cannot write (full disk). */
  DATABASE_FAILING: 503,
  /** The disk is full (or refuses writes): nothing of the request was written. */
  STORAGE_FULL: 507,
} as const;

export type RequestErrorCode = keyof typeof REQUEST_ERROR_STATUS;

export const SALE_ERROR_CODES = ['DUPLICATE', 'INSUFFICIENT_STOCK', 'ARTICLE_NOT_FOUND', 'INVALID_SALE'] as const;
export type SaleErrorCode = (typeof SALE_ERROR_CODES)[number];

export function statusOf(code: RequestErrorCode): number {
  return REQUEST_ERROR_STATUS[code];
}

export interface ErrorBody {
  error: string;
  code: RequestErrorCode;
  [extra: string]: unknown;
}

export function errorBody(code: RequestErrorCode, error: string, extra: Record<string, unknown> = {}): ErrorBody {
  return { error, code, ...extra };
}
