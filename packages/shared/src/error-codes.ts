/**
 * The one vocabulary of error codes. Programs branch on `code`, never on the French `error`.
 * Request-level codes fail the whole request; sale-level codes reject one sale of a batch.
 */
export const REQUEST_ERROR_STATUS = {
  // The first code of each status is the one an error known only by its status gets (see
  // codeOfStatus): keep the generic one first.
  BAD_REQUEST: 400,
  MISSING_SERIAL: 400,
  INVALID_JSON: 400,
  INVALID_FORMAT: 400,
  INVALID_QUERY: 400,
  /** CONTRACT §6: a terminal with a secret (or any, under --require-signatures) sent no X-Signature. */
  SIGNATURE_REQUIRED: 401,
  /** Malformed X-Signature, or an HMAC that does not match. */
  INVALID_SIGNATURE: 401,
  /** `t` more than 300 s from the server's clock. */
  SIGNATURE_EXPIRED: 401,
  /** The same v1 already accepted within the window. */
  SIGNATURE_REPLAYED: 401,
  /** X-Relay-Id names no relay, or a disabled one. */
  RELAY_NOT_FOUND: 401,
  NOT_FOUND: 404,
  TERMINAL_NOT_FOUND: 404,
  FORBIDDEN: 403,
  /** A registered relay naming a terminal outside its boutiques. */
  RELAY_FORBIDDEN: 403,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** An `Expect` header other than `100-continue`. */
  EXPECTATION_FAILED: 417,
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  UPSTREAM_UNAVAILABLE: 503,
  /** Shedding load (memory, event loop): try again after `Retry-After`. */
  OVERLOADED: 503,
  /** `/health`: the database does not answer, or cannot write (full disk). */
  DATABASE_FAILING: 503,
  /** The disk failed a read or write (an I/O error, not lack of space): nothing of the request was written. */
  STORAGE_ERROR: 503,
  /** The disk is full (or over quota): nothing of the request was written. */
  STORAGE_FULL: 507,
} as const;

export type RequestErrorCode = keyof typeof REQUEST_ERROR_STATUS;

export const SALE_ERROR_CODES = ['DUPLICATE', 'INSUFFICIENT_STOCK', 'ARTICLE_NOT_FOUND', 'INVALID_SALE'] as const;
export type SaleErrorCode = (typeof SALE_ERROR_CODES)[number];

/** Per-return codes of `POST …/ventes/retours/`: one return of a batch refused, the others go on. */
export const RETURN_ERROR_CODES = ['SALE_NOT_FOUND', 'RETURN_EXCEEDS_SALE', 'DUPLICATE', 'INVALID_RETURN'] as const;
export type ReturnErrorCode = (typeof RETURN_ERROR_CODES)[number];

export function statusOf(code: RequestErrorCode): number {
  return REQUEST_ERROR_STATUS[code];
}

/** The code an error known only by its HTTP status gets: its status's first code; else 400's or 500's. */
export function codeOfStatus(status: number): RequestErrorCode {
  const codes = Object.keys(REQUEST_ERROR_STATUS) as RequestErrorCode[];
  return (
    codes.find((code) => REQUEST_ERROR_STATUS[code] === status) ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST')
  );
}

export interface ErrorBody {
  error: string;
  code: RequestErrorCode;
  [extra: string]: unknown;
}

export function errorBody(code: RequestErrorCode, error: string, extra: Record<string, unknown> = {}): ErrorBody {
  return { error, code, ...extra };
}
