// The failures a caller can act on, named by the contract's ErrorReason
// values without the ERROR_REASON_ prefix. The gRPC boundary maps each to a
// status code once (grpc/errors.ts); the domain knows nothing of gRPC.

export const FAILURE_REASONS = [
  'INVALID_CARD_NUMBER',
  'CARD_EXPIRED',
  'INVALID_CVC',
  'INVALID_AMOUNT',
  'INVALID_ARGUMENT',
  'CARD_DECLINED',
  'CARD_INSUFFICIENT_FUNDS',
  'ACCOUNT_NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_KEY_IN_FLIGHT',
  'PAYMENT_GATEWAY_ERROR',
  'PAYMENT_GATEWAY_TIMEOUT',
  'DEPOSIT_FAILED_REFUNDED',
  'TOP_UP_PENDING',
  'CURRENCY_MISMATCH',
  'REFUND_FAILED',
  'TOP_UP_NOT_FOUND',
  'CALLER_UNAUTHENTICATED',
  'ROLE_FORBIDDEN',
  // Issue #15: refunds to the card.
  'TOP_UP_NOT_REFUNDABLE',
  'REFUND_EXCEEDS_DEPOSIT',
  'INSUFFICIENT_FUNDS',
  'REFUND_NOT_FOUND',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

export function isFailureReason(value: string): value is FailureReason {
  return (FAILURE_REASONS as readonly string[]).includes(value);
}

// One shape for a bad field everywhere (gRPC BadRequest, problem+json errors[]).
import type { FieldViolation } from '@wallet/platform';
export type { FieldViolation };

/** Whether the card is left charged: known yes, known no, or not known yet (the gateway has not confirmed either way). */
export type ChargedStatus = 'true' | 'false' | 'unknown';

/** A top-up that did not complete, described for the caller. */
export class TopUpFailure extends Error {
  readonly reason: FailureReason;
  /** Whether the card is left charged ('unknown' while a charge is unconfirmed). */
  readonly charged: ChargedStatus;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];

  constructor(init: {
    reason: FailureReason;
    message: string;
    charged: ChargedStatus;
    metadata?: Record<string, string>;
    fieldViolations?: FieldViolation[];
  }) {
    super(init.message);
    this.name = 'TopUpFailure';
    this.reason = init.reason;
    this.charged = init.charged;
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
  }
}

/** What the adapter could not reach before doing anything: the caller may retry with the same key. */
export type UnavailableDependency = 'bank' | 'token_issuer' | 'payment_gateway';

/**
 * A dependency needed before any charge (the bank's account check, the token
 * issuer's keys) could not answer: nothing was journaled, nothing charged.
 * Not a contract reason of its own: the boundary answers UNAVAILABLE.
 */
export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: UnavailableDependency,
    message: string,
    /** When known (an open circuit breaker): when to try again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'DependencyUnavailable';
  }
}
