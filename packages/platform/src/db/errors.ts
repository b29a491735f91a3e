// Classifies pg / network errors once for every service. Services map the
// classes to their own domain errors (e.g. "storage unavailable").

interface PgLikeError {
  code?: string;
  constraint?: string;
  message?: string;
}

function asPgError(error: unknown): PgLikeError {
  return typeof error === 'object' && error !== null ? (error as PgLikeError) : {};
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// 57P01 admin_shutdown (pg_terminate_backend), 57P02 crash_shutdown,
// 57P03 cannot_connect_now, 53300 too_many_connections, class 08 connection exceptions.
const UNREACHABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
  'Client was closed',
  'Cannot use a pool after calling end',
];

/** The connection failed or was lost: the server is unreachable or restarting. */
export function isConnectionError(error: unknown): boolean {
  const { code, message } = asPgError(error);
  if (code && (NETWORK_CODES.has(code) || UNREACHABLE_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  return CONNECTION_MESSAGES.some((text) => message?.includes(text));
}

/** statement_timeout (57014 query_canceled) or lock_timeout (55P03). */
export function isTimeoutError(error: unknown): boolean {
  const { code } = asPgError(error);
  return code === '57014' || code === '55P03';
}

/** lock_timeout alone (55P03): the statement waited on a row lock too long. */
export function isLockTimeoutError(error: unknown): boolean {
  return asPgError(error).code === '55P03';
}

/** The server rolled the transaction back because of a conflict; retrying is safe. */
export function isConflictError(error: unknown): boolean {
  const { code } = asPgError(error);
  return code === '40001' || code === '40P01';
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = asPgError(error);
  return e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/**
 * PostgreSQL refused the data itself (class 22 data exception, e.g. a NUL byte
 * in text, 23 integrity other than unique): retrying the same input cannot help.
 */
export function isDataError(error: unknown): boolean {
  const { code } = asPgError(error);
  return code !== undefined && (code.startsWith('22') || (code.startsWith('23') && code !== '23505'));
}

export type DbFailureClass = 'unreachable' | 'timeout' | 'contention';

/** Infrastructure failures a caller may retry later; undefined for anything else (a bug or bad data). */
export function classifyDbError(error: unknown): DbFailureClass | undefined {
  if (isConnectionError(error)) return 'unreachable';
  if (isTimeoutError(error)) return 'timeout';
  if (isConflictError(error)) return 'contention';
  return undefined;
}
