// The one place where domain errors become gRPC statuses: status code plus a
// google.rpc.ErrorInfo (domain "bank.wallet", reason = the proto's
// ErrorReason name without its prefix) and, for bad input, a BadRequest.
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { ErrorReason } from '@wallet/contracts/bank';
import { richError } from '@wallet/platform';
import { BankError, type BankErrorReason } from '../domain/errors.js';

export const ERROR_DOMAIN = 'bank.wallet';

/** Every domain reason, with its status code; keyed so a missing reason fails to compile. */
export const STATUS_BY_REASON: Record<BankErrorReason, Status> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  INVALID_AMOUNT: Status.INVALID_ARGUMENT,
  ACCOUNT_NOT_FOUND: Status.NOT_FOUND,
  INSUFFICIENT_FUNDS: Status.FAILED_PRECONDITION,
  SAME_ACCOUNT: Status.FAILED_PRECONDITION,
  CURRENCY_MISMATCH: Status.FAILED_PRECONDITION,
  IDEMPOTENCY_KEY_REUSED: Status.FAILED_PRECONDITION,
  IDEMPOTENCY_KEY_IN_FLIGHT: Status.ABORTED,
  STORAGE_UNAVAILABLE: Status.UNAVAILABLE,
  DEPOSIT_REFERENCE_VOIDED: Status.FAILED_PRECONDITION,
  DEADLINE_EXCEEDED: Status.DEADLINE_EXCEEDED,
  CANCELLED: Status.CANCELLED,
  CALLER_UNAUTHENTICATED: Status.UNAUTHENTICATED,
  ROLE_FORBIDDEN: Status.PERMISSION_DENIED,
  IDENTITY_UNAVAILABLE: Status.UNAVAILABLE,
  HOLD_NOT_FOUND: Status.NOT_FOUND,
  HOLD_NOT_PENDING: Status.FAILED_PRECONDITION,
  CAPTURE_EXCEEDS_HOLD: Status.INVALID_ARGUMENT,
  TRANSFER_NOT_FOUND: Status.NOT_FOUND,
  REVERSAL_EXCEEDS_REMAINING: Status.FAILED_PRECONDITION,
  REVERSAL_WOULD_OVERDRAW: Status.FAILED_PRECONDITION,
  LIMIT_EXCEEDED: Status.FAILED_PRECONDITION,
  LIMIT_ABOVE_MAXIMUM: Status.FAILED_PRECONDITION,
  DEPOSIT_NOT_FOUND: Status.NOT_FOUND,
  REFUND_EXCEEDS_DEPOSIT: Status.FAILED_PRECONDITION,
  REFUND_REFERENCE_VOIDED: Status.FAILED_PRECONDITION,
  REFUND_NOT_CANCELLABLE: Status.FAILED_PRECONDITION,
};

/** The ErrorInfo reason string, checked against the proto enum at compile time. */
export function reasonName(reason: BankErrorReason): string {
  const key: keyof typeof ErrorReason = `ERROR_REASON_${reason}`;
  return ErrorReason[ErrorReason[key]].replace(/^ERROR_REASON_/, '');
}

/** Maps any error to a ServiceError; unknown errors become INTERNAL without details. */
export function toGrpcError(error: unknown): ServiceError {
  if (error instanceof BankError) {
    return richError({
      code: STATUS_BY_REASON[error.reason],
      reason: reasonName(error.reason),
      domain: ERROR_DOMAIN,
      message: error.message,
      metadata: error.metadata,
      fieldViolations: error.fieldViolations,
    });
  }
  const internal = new Error('internal error') as ServiceError;
  internal.code = Status.INTERNAL;
  internal.details = 'internal error';
  return internal;
}

/** A short label for metrics: "completed", "replayed", a reason in lower case, or "internal". */
export function outcomeOf(error: unknown): string {
  return error instanceof BankError ? error.reason.toLowerCase() : 'internal';
}
