import { status as Status } from '@grpc/grpc-js';

// What trips a breaker: the downstream (or the path to it) is sick. A business
// answer (NOT_FOUND, FAILED_PRECONDITION, an HTTP 4xx, a validation error) proves
// the downstream is up and answering, so it never counts.

const INFRASTRUCTURE_GRPC_CODES: ReadonlySet<number> = new Set([
  Status.UNAVAILABLE,
  Status.DEADLINE_EXCEEDED,
  Status.INTERNAL,
  Status.UNKNOWN,
  Status.RESOURCE_EXHAUSTED,
]);

/** The same codes by name, for client errors that carry the name (e.g. BankCallError.code = 'UNAVAILABLE'). */
const INFRASTRUCTURE_GRPC_CODE_NAMES: ReadonlySet<string> = new Set(
  [...INFRASTRUCTURE_GRPC_CODES].map((code) => Status[code] as string),
);

/** Node/undici socket and timeout codes: the request never reached the peer, or its reply never came back. */
const CONNECTION_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Error names of timeouts: platform withTimeout, AbortSignal.timeout(). */
const TIMEOUT_ERROR_NAMES: ReadonlySet<string> = new Set(['TimeoutError']);

/** How deep `cause` chains are followed (fetch wraps the socket error in `cause`). */
const CAUSE_DEPTH_MAX = 5;

/**
 * True when `error` says the downstream or the network is failing: gRPC
 * UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, RESOURCE_EXHAUSTED (by
 * number or by name), a connection error, a timeout, or an HTTP 5xx. Business
 * answers and programming errors are not.
 */
export function isInfrastructureFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && typeof current === 'object' && current !== null; depth += 1) {
    if (isInfrastructureFailureItself(current as Record<string, unknown>)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function isInfrastructureFailureItself(error: Record<string, unknown>): boolean {
  const { code, name } = error;
  if (typeof code === 'number' && INFRASTRUCTURE_GRPC_CODES.has(code)) return true;
  if (typeof code === 'string' && (INFRASTRUCTURE_GRPC_CODE_NAMES.has(code) || CONNECTION_ERROR_CODES.has(code))) return true;
  if (typeof name === 'string' && TIMEOUT_ERROR_NAMES.has(name)) return true;
  return isHttpServerError(error.statusCode) || isHttpServerError(error.status);
}

function isHttpServerError(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 500 && value <= 599;
}
