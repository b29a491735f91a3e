import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ParsedGrpcError } from '@wallet/platform';

// RFC 9457 problem details and the one table that maps a downstream gRPC
// failure (status code + google.rpc.ErrorInfo reason) to an HTTP problem.
// Pure: no Fastify, no I/O.

export const PROBLEM_TYPE_PREFIX = 'urn:problem:wallet:';

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Machine reason, e.g. INSUFFICIENT_FUNDS. */
  code: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  /** Top-up only: whether the card is left charged. */
  charged?: boolean;
  /** Top-up only: the issuer's decline reason. */
  declineCode?: string;
  /** LIMIT_EXCEEDED / LIMIT_ABOVE_MAXIMUM: which limit (daily, monthly, overdraft). */
  limit?: string;
  /** LIMIT_EXCEEDED, REVERSAL_EXCEEDS_REMAINING, REFUND_EXCEEDS_DEPOSIT: the allowance left (decimal string). */
  remaining?: string;
  /** LIMIT_ABOVE_MAXIMUM: the admin's maximum (decimal string). */
  maximum?: string;
  /** HOLD_NOT_PENDING: the hold's final state (captured, voided, expired). */
  holdStatus?: string;
}

export interface ProblemKind {
  status: number;
  /** Last part of the type URN: urn:problem:wallet:<slug>. */
  slug: string;
  title: string;
  code: string;
  /**
   * Detail shown for 5xx answers instead of the downstream message, which may
   * name hosts or internals. 4xx answers carry the downstream service's own
   * message, written for callers.
   */
  fixedDetail?: string;
}

/** A problem the gateway itself raises (validation, unknown route, ...); the error handler renders it. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  constructor(
    readonly kind: ProblemKind,
    detail: string,
    readonly extensions: Pick<Problem, 'errors' | 'charged' | 'declineCode'> = {},
    /** Sent as Retry-After (429); 503 answers always carry one. */
    readonly retryAfterSeconds?: number,
    /** Extra response headers, e.g. WWW-Authenticate on a 401. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
  }
}

const kind = (status: number, slug: string, title: string, code: string, fixedDetail?: string): ProblemKind =>
  fixedDetail === undefined ? { status, slug, title, code } : { status, slug, title, code, fixedDetail };

/** Problems raised at the HTTP edge, before any downstream call. */
export const EDGE_PROBLEMS = {
  validation: kind(400, 'validation-error', 'Invalid request', 'VALIDATION_ERROR'),
  idempotencyKey: kind(400, 'invalid-idempotency-key', 'Invalid Idempotency-Key', 'INVALID_IDEMPOTENCY_KEY'),
  malformedBody: kind(400, 'malformed-body', 'Malformed request body', 'MALFORMED_BODY'),
  badRequest: kind(400, 'bad-request', 'Bad request', 'BAD_REQUEST'),
  unauthenticated: kind(401, 'unauthenticated', 'Authentication required', 'UNAUTHENTICATED'),
  forbidden: kind(403, 'forbidden', 'Forbidden', 'FORBIDDEN'),
  routeNotFound: kind(404, 'route-not-found', 'Not found', 'ROUTE_NOT_FOUND'),
  methodNotAllowed: kind(405, 'method-not-allowed', 'Method not allowed', 'METHOD_NOT_ALLOWED'),
  payloadTooLarge: kind(413, 'payload-too-large', 'Payload too large', 'PAYLOAD_TOO_LARGE'),
  unsupportedMediaType: kind(415, 'unsupported-media-type', 'Unsupported media type', 'UNSUPPORTED_MEDIA_TYPE'),
  rateLimited: kind(429, 'rate-limited', 'Too many requests', 'RATE_LIMITED'),
  // Rules across parameters that a schema cannot say: the request matches openapi.yaml, so 422, not 400.
  invalidTimeRange: kind(422, 'invalid-time-range', 'Invalid time range', 'INVALID_TIME_RANGE'),
  timeRangeTooLong: kind(422, 'time-range-too-long', 'Time range too long', 'TIME_RANGE_TOO_LONG'),
  internal: kind(500, 'internal-error', 'Internal error', 'INTERNAL', 'An unexpected error occurred; it has been logged.'),
  // The token issuer's keys could not be fetched: not the caller's fault, so not a 401.
  authUnavailable: kind(503, 'service-unavailable', 'Service unavailable', 'AUTH_UNAVAILABLE',
    'The access token cannot be checked right now (the token issuer is unreachable); retry later.'),
  identityUnavailable: kind(503, 'service-unavailable', 'Service unavailable', 'IDENTITY_UNAVAILABLE',
    'The identity service is unreachable; retry later.'),
  // Load shedding (plugins/load-shedding.ts): refused before any work, so never executed.
  overloaded: kind(503, 'service-overloaded', 'Service overloaded', 'SERVICE_OVERLOADED'),
  // A circuit breaker is open (clients/guarded.ts): the call was not sent, so certainly not executed.
  dependencyUnavailable: kind(503, 'dependency-unavailable', 'Dependency unavailable', 'DEPENDENCY_UNAVAILABLE'),
  identityBadResponse: kind(502, 'bad-gateway', 'Bad gateway', 'IDENTITY_BAD_RESPONSE',
    'The identity service gave an answer the gateway cannot relay.'),
  identityTimeout: kind(504, 'upstream-timeout', 'Upstream timeout', 'IDENTITY_TIMEOUT',
    'The identity service did not answer within the deadline; the outcome is unknown.'),
} as const;

const UNAVAILABLE_DETAIL = 'A downstream service is unavailable; retry later with the same Idempotency-Key.';
const TIMEOUT_DETAIL =
  'A downstream service did not answer within the deadline; the outcome may be unknown, retry with the same Idempotency-Key.';

/**
 * ErrorInfo reason -> problem. Reasons are the enum names of the protos
 * without the ERROR_REASON_ prefix; bank, card adapter and analytics share
 * names where the meaning is the same.
 */
export const PROBLEMS_BY_REASON: Readonly<Record<string, ProblemKind>> = {
  INVALID_ARGUMENT: kind(400, 'invalid-argument', 'Invalid request', 'INVALID_ARGUMENT'),
  // The backend refused the forwarded token (e.g. it expired between our check and theirs).
  CALLER_UNAUTHENTICATED: EDGE_PROBLEMS.unauthenticated,
  ROLE_FORBIDDEN: EDGE_PROBLEMS.forbidden,
  // Below: rules a request matching openapi.yaml can still break (its schemas cannot say them): 422.
  // The gateway refuses amounts outside the contract's range itself, so a downstream INVALID_AMOUNT
  // means a deployment configured a narrower limit than the contract states.
  INVALID_CURSOR: kind(422, 'invalid-cursor', 'Invalid cursor', 'INVALID_CURSOR'),
  INVALID_AMOUNT: kind(422, 'amount-out-of-range', 'Amount out of range', 'INVALID_AMOUNT'),
  INVALID_CARD_NUMBER: kind(422, 'invalid-card-number', 'Invalid card number', 'INVALID_CARD_NUMBER'),
  CARD_EXPIRED: kind(422, 'card-expired', 'Card expired', 'CARD_EXPIRED'),
  INVALID_CVC: kind(422, 'invalid-cvc', 'Invalid CVC', 'INVALID_CVC'),
  CARD_DECLINED: kind(402, 'card-declined', 'Card declined', 'CARD_DECLINED'),
  CARD_INSUFFICIENT_FUNDS: kind(402, 'card-insufficient-funds', 'Card declined: insufficient funds', 'CARD_INSUFFICIENT_FUNDS'),
  ACCOUNT_NOT_FOUND: kind(404, 'account-not-found', 'Account not found', 'ACCOUNT_NOT_FOUND'),
  IDEMPOTENCY_KEY_IN_FLIGHT: kind(409, 'idempotency-key-in-flight', 'Request in progress', 'IDEMPOTENCY_KEY_IN_FLIGHT'),
  INSUFFICIENT_FUNDS: kind(422, 'insufficient-funds', 'Insufficient funds', 'INSUFFICIENT_FUNDS'),
  SAME_ACCOUNT: kind(422, 'same-account', 'Sender and recipient are the same account', 'SAME_ACCOUNT'),
  CURRENCY_MISMATCH: kind(422, 'currency-mismatch', 'Currency mismatch', 'CURRENCY_MISMATCH'),
  IDEMPOTENCY_KEY_REUSED: kind(422, 'idempotency-key-reused', 'Idempotency-Key reused with another request', 'IDEMPOTENCY_KEY_REUSED'),
  PAYMENT_GATEWAY_ERROR: kind(502, 'payment-gateway-error', 'Payment gateway error', 'PAYMENT_GATEWAY_ERROR',
    'The payment gateway failed; see `charged` for whether the card was charged.'),
  DEPOSIT_FAILED_REFUNDED: kind(502, 'top-up-refunded', 'Top-up failed and was refunded', 'DEPOSIT_FAILED_REFUNDED',
    'The card was charged but crediting the account failed, so the charge was refunded. Nothing is charged.'),
  // The card is left charged and flagged for an operator: never reported as "nothing charged".
  REFUND_FAILED: kind(502, 'top-up-refund-failed', 'Top-up failed and its refund was refused', 'REFUND_FAILED',
    'The card was charged, crediting the account failed, and the payment gateway refused the refund. The charge is flagged for manual resolution (`charged` is true).'),
  PAYMENT_GATEWAY_TIMEOUT: kind(504, 'payment-gateway-timeout', 'Payment gateway timeout', 'PAYMENT_GATEWAY_TIMEOUT',
    'The payment gateway did not answer in time; retry with the same Idempotency-Key to learn the outcome.'),
  TOP_UP_PENDING: kind(503, 'top-up-pending', 'Top-up pending', 'TOP_UP_PENDING',
    'The top-up is not finished; it will be completed or refunded automatically (`charged` says whether the card is charged, when known). Retry with the same Idempotency-Key to learn the outcome.'),
  STORAGE_UNAVAILABLE: kind(503, 'service-unavailable', 'Service unavailable', 'STORAGE_UNAVAILABLE', UNAVAILABLE_DETAIL),
  STORE_UNAVAILABLE: kind(503, 'service-unavailable', 'Service unavailable', 'STORE_UNAVAILABLE', UNAVAILABLE_DETAIL),
  // The bank gave up on a request whose own deadline passed or whose caller went away before it ran.
  DEADLINE_EXCEEDED: kind(504, 'upstream-timeout', 'Upstream timeout', 'DEADLINE_EXCEEDED', TIMEOUT_DETAIL),
  CANCELLED: kind(503, 'service-unavailable', 'Service unavailable', 'CANCELLED', UNAVAILABLE_DETAIL),
  // Issue #15.
  HOLD_NOT_FOUND: kind(404, 'hold-not-found', 'Hold not found', 'HOLD_NOT_FOUND'),
  // Another capture, void or the expiry won: the answer names the hold's final state (holdStatus).
  HOLD_NOT_PENDING: kind(409, 'hold-not-pending', 'Hold is no longer pending', 'HOLD_NOT_PENDING'),
  CAPTURE_EXCEEDS_HOLD: kind(422, 'capture-exceeds-hold', 'Capture above the held amount', 'CAPTURE_EXCEEDS_HOLD'),
  TRANSFER_NOT_FOUND: kind(404, 'transfer-not-found', 'Transfer not found', 'TRANSFER_NOT_FOUND'),
  REVERSAL_EXCEEDS_REMAINING: kind(422, 'reversal-exceeds-remaining', 'Reversal above what remains', 'REVERSAL_EXCEEDS_REMAINING'),
  REVERSAL_WOULD_OVERDRAW: kind(422, 'reversal-would-overdraw', 'Reversal would overdraw the recipient', 'REVERSAL_WOULD_OVERDRAW'),
  LIMIT_EXCEEDED: kind(422, 'limit-exceeded', 'Limit exceeded', 'LIMIT_EXCEEDED'),
  LIMIT_ABOVE_MAXIMUM: kind(422, 'limit-above-maximum', 'Limit above the allowed maximum', 'LIMIT_ABOVE_MAXIMUM'),
  DEPOSIT_NOT_FOUND: kind(404, 'top-up-not-found', 'Top-up not found', 'DEPOSIT_NOT_FOUND'),
  REFUND_EXCEEDS_DEPOSIT: kind(422, 'refund-exceeds-top-up', 'Refund above what remains of the top-up', 'REFUND_EXCEEDS_DEPOSIT'),
  // Card adapter, refunds to the card.
  TOP_UP_NOT_REFUNDABLE: kind(422, 'top-up-not-refundable', 'Top-up cannot be refunded', 'TOP_UP_NOT_REFUNDABLE'),
  TOP_UP_NOT_FOUND: kind(404, 'top-up-not-found', 'Top-up not found', 'TOP_UP_NOT_FOUND'),
  REFUND_NOT_FOUND: kind(404, 'refund-not-found', 'Refund not found', 'REFUND_NOT_FOUND'),
  // Webhook-service (its reasons without the WEBHOOK_ERROR_REASON_ prefix).
  URL_NOT_ALLOWED: kind(422, 'url-not-allowed', 'Webhook URL not allowed', 'URL_NOT_ALLOWED'),
  TOO_MANY_ENDPOINTS: kind(422, 'too-many-webhooks', 'Too many webhook endpoints', 'TOO_MANY_ENDPOINTS'),
  IDENTITY_UNAVAILABLE: kind(503, 'service-unavailable', 'Service unavailable', 'IDENTITY_UNAVAILABLE', UNAVAILABLE_DETAIL),
};

/**
 * Fields whose every value the contract's schema allows can still break a rule
 * the schema cannot state (a time that must be in the future and within the
 * bank's maximum, a time zone that must exist): a downstream INVALID_ARGUMENT
 * naming only such fields is a 422, like every rule a schema-valid request breaks.
 */
const INVALID_FIELD_VALUE = kind(422, 'invalid-field-value', 'Field value not allowed', 'INVALID_FIELD_VALUE');
const RULE_FIELDS: ReadonlyMap<string, ProblemKind> = new Map([
  ['expires_at', INVALID_FIELD_VALUE],
  ['time_zone', INVALID_FIELD_VALUE],
  // An opaque cursor the schema cannot tell from a real one (like GET /operations' INVALID_CURSOR).
  ['page_token', PROBLEMS_BY_REASON.INVALID_CURSOR!],
]);

/** The 422 for an INVALID_ARGUMENT whose violations all name rule fields of one kind; undefined otherwise. */
function ruleProblem(error: ParsedGrpcError, reason: string | undefined): ProblemKind | undefined {
  const invalidArgument = reason === 'INVALID_ARGUMENT' || (reason === undefined && error.code === GrpcStatus.INVALID_ARGUMENT);
  if (!invalidArgument || error.fieldViolations.length === 0) return undefined;
  const kinds = new Set(error.fieldViolations.map((v) => RULE_FIELDS.get(v.field)));
  return kinds.size === 1 ? [...kinds][0] : undefined;
}

/** ErrorInfo metadata a client may act on, copied into the problem (never secrets: the bank puts none there). */
const PROBLEM_METADATA: ReadonlyArray<readonly [metadataKey: string, problemKey: 'limit' | 'remaining' | 'maximum' | 'holdStatus']> = [
  ['limit', 'limit'],
  ['remaining', 'remaining'],
  ['maximum', 'maximum'],
  ['status', 'holdStatus'],
];
const METADATA_REASONS: ReadonlySet<string> = new Set([
  'LIMIT_EXCEEDED',
  'LIMIT_ABOVE_MAXIMUM',
  'REVERSAL_EXCEEDS_REMAINING',
  'REFUND_EXCEEDS_DEPOSIT',
  'HOLD_NOT_PENDING',
]);

/** gRPC status -> problem, for errors without a known reason (e.g. transport failures). */
export const PROBLEMS_BY_GRPC_CODE: Readonly<Partial<Record<GrpcStatus, ProblemKind>>> = {
  [GrpcStatus.INVALID_ARGUMENT]: PROBLEMS_BY_REASON.INVALID_ARGUMENT!,
  [GrpcStatus.OUT_OF_RANGE]: PROBLEMS_BY_REASON.INVALID_ARGUMENT!,
  [GrpcStatus.NOT_FOUND]: kind(404, 'not-found', 'Not found', 'NOT_FOUND'),
  [GrpcStatus.UNAUTHENTICATED]: EDGE_PROBLEMS.unauthenticated,
  [GrpcStatus.PERMISSION_DENIED]: EDGE_PROBLEMS.forbidden,
  [GrpcStatus.ALREADY_EXISTS]: kind(409, 'conflict', 'Conflict', 'ALREADY_EXISTS'),
  [GrpcStatus.ABORTED]: kind(409, 'conflict', 'Conflict', 'ABORTED'),
  [GrpcStatus.FAILED_PRECONDITION]: kind(422, 'unprocessable', 'Request cannot be processed', 'FAILED_PRECONDITION'),
  [GrpcStatus.UNAVAILABLE]: kind(503, 'service-unavailable', 'Service unavailable', 'UNAVAILABLE', UNAVAILABLE_DETAIL),
  // The server shed load or a message limit was hit: transient from the caller's view.
  [GrpcStatus.RESOURCE_EXHAUSTED]: kind(503, 'service-unavailable', 'Service unavailable', 'RESOURCE_EXHAUSTED', UNAVAILABLE_DETAIL),
  [GrpcStatus.DEADLINE_EXCEEDED]: kind(504, 'upstream-timeout', 'Upstream timeout', 'DEADLINE_EXCEEDED', TIMEOUT_DETAIL),
  [GrpcStatus.CANCELLED]: kind(503, 'service-unavailable', 'Service unavailable', 'CANCELLED', UNAVAILABLE_DETAIL),
};

/** "ERROR_REASON_INSUFFICIENT_FUNDS" and "INSUFFICIENT_FUNDS" both name the same reason. */
export function normalizeReason(reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  // The webhook-service's enum names carry its own prefix (WEBHOOK_ERROR_REASON_URL_NOT_ALLOWED).
  const prefix = ['ERROR_REASON_', 'WEBHOOK_ERROR_REASON_'].find((p) => reason.startsWith(p));
  return prefix === undefined ? reason : reason.slice(prefix.length);
}

export interface MappedGrpcProblem {
  problem: Problem;
  /** True when neither the reason nor the status is known: logged as an error, answered as a 500. */
  unexpected: boolean;
}

export interface GrpcMappingOptions {
  /** Top-up calls report `charged` (from ErrorInfo metadata "charged"). */
  topUp?: boolean;
}

/** Maps a failed gRPC call to the problem the client sees. */
export function problemFromGrpcError(error: ParsedGrpcError, options: GrpcMappingOptions = {}): MappedGrpcProblem {
  const reason = normalizeReason(error.reason);
  const known = ruleProblem(error, reason) ?? (reason !== undefined ? PROBLEMS_BY_REASON[reason] : undefined) ?? PROBLEMS_BY_GRPC_CODE[error.code];
  const chosen = known ?? EDGE_PROBLEMS.internal;
  const problem: Problem = {
    type: PROBLEM_TYPE_PREFIX + chosen.slug,
    title: chosen.title,
    status: chosen.status,
    detail: chosen.fixedDetail ?? (error.message || chosen.title),
    code: chosen.code,
  };
  if ((chosen.status === 400 || chosen.status === 422) && error.fieldViolations.length > 0) {
    problem.errors = error.fieldViolations.map((v) => ({ field: v.field, message: v.description }));
  }
  if (chosen.status === 402) {
    const declineCode = error.metadata.decline_code ?? error.metadata.declineCode;
    if (declineCode) problem.declineCode = declineCode;
  }
  if (reason !== undefined && METADATA_REASONS.has(reason)) {
    for (const [metadataKey, problemKey] of PROBLEM_METADATA) {
      const value = error.metadata[metadataKey];
      if (value) problem[problemKey] = value;
    }
  }
  if (options.topUp) {
    const charged = chargedFromMetadata(error.metadata.charged, chosen.status);
    if (charged !== undefined) problem.charged = charged;
  }
  return { problem, unexpected: known === undefined };
}

/**
 * Whether the card is left charged. The adapter says so in ErrorInfo
 * metadata; without it a 4xx means the adapter refused the request before
 * charging, while a transport failure or timeout leaves the outcome unknown
 * (undefined: the field is left out rather than guessed).
 */
export function chargedFromMetadata(value: string | undefined, status: number): boolean | undefined {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return status < 500 ? false : undefined;
}

/** Renders a gateway-raised problem. */
export function problemFromKind(problemKind: ProblemKind, detail: string, extensions: ProblemError['extensions'] = {}): Problem {
  return {
    type: PROBLEM_TYPE_PREFIX + problemKind.slug,
    title: problemKind.title,
    status: problemKind.status,
    detail: problemKind.fixedDetail ?? detail,
    code: problemKind.code,
    ...extensions,
  };
}
