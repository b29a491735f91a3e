import { status as Status, type ServiceError } from '@grpc/grpc-js';
import type { ErrorReason } from '@wallet/contracts/card-adapter';
import { richError } from '@wallet/platform';
import { DependencyUnavailable, TopUpFailure, type FailureReason } from '../domain/failures.js';

type ProtoReason = Exclude<keyof typeof ErrorReason, 'ERROR_REASON_UNSPECIFIED' | 'UNRECOGNIZED'> extends `ERROR_REASON_${infer R}` ? R : never;
/** Compile-time check: the domain's reasons are exactly the contract's ErrorReason values. */
export const REASONS_MATCH_CONTRACT: [FailureReason] extends [ProtoReason] ? ([ProtoReason] extends [FailureReason] ? true : never) : never = true;

export const ERROR_DOMAIN = 'card-adapter.wallet';

/** The contract's code for each reason (bank_card_adapter.proto, ErrorReason comments). */
export const STATUS_BY_REASON: Record<FailureReason, Status> = {
  INVALID_CARD_NUMBER: Status.INVALID_ARGUMENT,
  CARD_EXPIRED: Status.INVALID_ARGUMENT,
  INVALID_CVC: Status.INVALID_ARGUMENT,
  INVALID_AMOUNT: Status.INVALID_ARGUMENT,
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  CARD_DECLINED: Status.FAILED_PRECONDITION,
  CARD_INSUFFICIENT_FUNDS: Status.FAILED_PRECONDITION,
  ACCOUNT_NOT_FOUND: Status.NOT_FOUND,
  IDEMPOTENCY_KEY_REUSED: Status.FAILED_PRECONDITION,
  IDEMPOTENCY_KEY_IN_FLIGHT: Status.ABORTED,
  PAYMENT_GATEWAY_ERROR: Status.UNAVAILABLE,
  PAYMENT_GATEWAY_TIMEOUT: Status.DEADLINE_EXCEEDED,
  DEPOSIT_FAILED_REFUNDED: Status.ABORTED,
  TOP_UP_PENDING: Status.UNAVAILABLE,
  CURRENCY_MISMATCH: Status.FAILED_PRECONDITION,
  REFUND_FAILED: Status.ABORTED,
  TOP_UP_NOT_FOUND: Status.NOT_FOUND,
  CALLER_UNAUTHENTICATED: Status.UNAUTHENTICATED,
  ROLE_FORBIDDEN: Status.PERMISSION_DENIED,
  TOP_UP_NOT_REFUNDABLE: Status.FAILED_PRECONDITION,
  REFUND_EXCEEDS_DEPOSIT: Status.FAILED_PRECONDITION,
  INSUFFICIENT_FUNDS: Status.FAILED_PRECONDITION,
  REFUND_NOT_FOUND: Status.NOT_FOUND,
};

/** The one place a domain failure becomes a gRPC status with ErrorInfo. */
export function toServiceError(error: unknown): ServiceError {
  if (error instanceof TopUpFailure) {
    return richError({
      code: STATUS_BY_REASON[error.reason],
      reason: error.reason,
      message: error.message,
      domain: ERROR_DOMAIN,
      metadata: { ...error.metadata, charged: error.charged },
      fieldViolations: error.fieldViolations,
    });
  }
  if (error instanceof DependencyUnavailable) {
    const retryAfter: Record<string, string> = error.retryAfterSeconds === undefined ? {} : { retry_after_seconds: String(error.retryAfterSeconds) };
    return richError({
      code: Status.UNAVAILABLE,
      // The contract's reason for "the gateway certainly did not charge"; the others have no better reason than UNSPECIFIED.
      reason: error.dependency === 'payment_gateway' ? 'PAYMENT_GATEWAY_ERROR' : 'UNSPECIFIED',
      message: `${error.message}; nothing was charged; retry with the same idempotency key`,
      domain: ERROR_DOMAIN,
      metadata: { charged: 'false', unavailable: error.dependency, ...retryAfter },
    });
  }
  // Only reached before anything was journaled (e.g. the database is down): nothing was charged.
  return richError({
    code: Status.UNAVAILABLE,
    reason: 'UNSPECIFIED',
    message: 'the card adapter cannot process top-ups right now; nothing was charged; retry with the same idempotency key',
    domain: ERROR_DOMAIN,
    metadata: { charged: 'false' },
  });
}
