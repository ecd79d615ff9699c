/**
 * The API's error catalogue: every JSON error the REST routes return has one of
 * these codes, with its HTTP status and a default message. `docs/api.md` documents
 * each code; a unit test keeps the two in sync.
 *
 * The SQL endpoint speaks ClickHouse's error dialect instead (`Code: <n>.
 * DB::Exception: ...`): the codes it raises itself are in `SQL_ERRORS`.
 */

export const API_ERRORS = {
  INVALID_FILTER: { status: 400, message: 'a filter parameter has an invalid value' },
  INVALID_PARAMETER: { status: 400, message: 'a query parameter has an invalid value' },
  UNKNOWN_PARAMETER: { status: 400, message: 'unknown query parameter' },
  INVALID_ORG: {
    status: 400,
    message: 'org must be 1-64 characters of letters, digits, "_" or "-"',
  },
  INVALID_SESSION_ID: { status: 400, message: 'session id must be a UUID' },
  INVALID_BODY: { status: 400, message: 'the request body is not valid' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  FORBIDDEN: { status: 403, message: 'this API key may not do this' },
  NOT_FOUND: { status: 404, message: 'no such route' },
  SESSION_NOT_FOUND: { status: 404, message: 'no session with this id in this org' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this route' },
  BODY_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  UPGRADE_REQUIRED: {
    status: 426,
    message: 'this route is a WebSocket: send a WebSocket upgrade request',
  },
  INTERNAL: { status: 500, message: 'internal error; the collector log has the details' },
  NOT_CONFIGURED: { status: 501, message: 'this feature is not configured on this collector' },
  STORE_BUSY: { status: 503, message: 'the store is busy with other queries; retry shortly' },
  TOO_MANY_LIVE_CLIENTS: {
    status: 503,
    message: 'this collector has as many live tail clients as it accepts; retry later',
  },
  SETTINGS_UNAVAILABLE: {
    status: 503,
    message: 'the settings store (NATS KV) cannot be reached; retry shortly',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** A REST error: serialized as `{ error: { code, message, param? } }` with the catalogue's status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string = API_ERRORS[code].message,
    /** The query parameter (or path segment) that was wrong, when there is one. */
    readonly param?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = API_ERRORS[code].status;
  }

  toJSON(): { error: { code: ApiErrorCode; message: string; param?: string } } {
    const body: { code: ApiErrorCode; message: string; param?: string } = {
      code: this.code,
      message: this.message,
    };
    if (this.param !== undefined) body.param = this.param;
    return { error: body };
  }
}

/** Shorthand for the most common error: a filter value that does not parse. */
export function invalidFilter(param: string, why: string): ApiError {
  return new ApiError('INVALID_FILTER', `${param}: ${why}`, param);
}

/**
 * ClickHouse exception codes the SQL endpoint raises itself (before the engine sees
 * the query). Errors from the engine keep the engine's own code.
 */
export const SQL_ERRORS = {
  SYNTAX_ERROR: { code: 62, status: 400, message: 'the statement does not parse' },
  EMPTY_QUERY: { code: 62, status: 400, name: 'SYNTAX_ERROR', message: 'Empty query' },
  UNKNOWN_DATABASE: { code: 81, status: 400, message: 'unknown database' },
  UNKNOWN_SETTING: {
    code: 115,
    status: 400,
    message: 'settings are not accepted as URL parameters; use a SETTINGS clause',
  },
  READONLY: {
    code: 164,
    status: 400,
    message: 'Cannot execute query in readonly mode: the SQL endpoint only reads',
  },
  UNKNOWN_FORMAT: { code: 73, status: 400, message: 'unknown output format' },
  QUERY_IS_TOO_LARGE: { code: 229, status: 413, message: 'the query is too large' },
  ACCESS_DENIED: {
    code: 497,
    status: 400,
    message: 'the statement uses something the SQL endpoint does not allow',
  },
  NOT_IMPLEMENTED: { code: 48, status: 400, message: 'not supported by this endpoint' },
  REQUIRED_PASSWORD: { code: 194, status: 401, message: 'authentication required' },
  AUTHENTICATION_FAILED: { code: 516, status: 401, message: 'invalid or revoked API key' },
  ORG_SCOPE: {
    code: 497,
    status: 403,
    name: 'ACCESS_DENIED',
    message:
      'the SQL endpoint reads every org: it needs an API key scoped to all orgs (*); use the REST API with an org key',
  },
  TOO_MANY_SIMULTANEOUS_QUERIES: {
    code: 202,
    status: 503,
    message: 'too many queries are waiting for the store; retry shortly',
  },
} as const satisfies Record<
  string,
  { code: number; status: number; message: string; name?: string }
>;

export type SqlErrorName = keyof typeof SQL_ERRORS;

/** An error the SQL endpoint reports in ClickHouse's format. */
export class SqlEndpointError extends Error {
  override readonly name = 'SqlEndpointError';
  /** ClickHouse exception code (`X-ClickHouse-Exception-Code`). */
  readonly clickhouseCode: number;
  readonly status: number;

  /** ClickHouse's name for the code, shown in the message like the server does. */
  readonly clickhouseName: string;

  constructor(
    readonly kind: SqlErrorName,
    message: string = SQL_ERRORS[kind].message,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.clickhouseCode = SQL_ERRORS[kind].code;
    this.status = SQL_ERRORS[kind].status;
    const entry: { name?: string; code: number } = SQL_ERRORS[kind];
    this.clickhouseName = entry.name ?? kind;
  }
}

/** A bad `http.listen` value, found when the server is created. */
export class ApiConfigError extends Error {
  override readonly name = 'ApiConfigError';
  readonly code = 'INVALID_CONFIG';
}
