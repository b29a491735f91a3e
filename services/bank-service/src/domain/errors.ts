// One error class per failure a caller can act on. The reason names are the
// proto's ErrorReason names without the ERROR_REASON_ prefix; the gRPC layer
// maps each class to a status code once (src/grpc/errors.ts).
// FieldViolation: one shape for a bad field everywhere (gRPC BadRequest, problem+json errors[]).
import type { FieldViolation } from '@wallet/platform';

export type { FieldViolation };

export type BankErrorReason =
  | 'INVALID_ARGUMENT'
  | 'INVALID_AMOUNT'
  | 'ACCOUNT_NOT_FOUND'
  | 'INSUFFICIENT_FUNDS'
  | 'SAME_ACCOUNT'
  | 'CURRENCY_MISMATCH'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_FLIGHT'
  | 'STORAGE_UNAVAILABLE'
  | 'DEPOSIT_REFERENCE_VOIDED'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'CALLER_UNAUTHENTICATED'
  | 'ROLE_FORBIDDEN'
  | 'IDENTITY_UNAVAILABLE'
  // Issue #15.
  | 'HOLD_NOT_FOUND'
  | 'HOLD_NOT_PENDING'
  | 'CAPTURE_EXCEEDS_HOLD'
  | 'TRANSFER_NOT_FOUND'
  | 'REVERSAL_EXCEEDS_REMAINING'
  | 'REVERSAL_WOULD_OVERDRAW'
  | 'LIMIT_EXCEEDED'
  | 'LIMIT_ABOVE_MAXIMUM'
  | 'DEPOSIT_NOT_FOUND'
  | 'REFUND_EXCEEDS_DEPOSIT'
  | 'REFUND_REFERENCE_VOIDED'
  | 'REFUND_NOT_CANCELLABLE';

export abstract class BankError extends Error {
  abstract readonly reason: BankErrorReason;
  /** Machine-readable details (ErrorInfo.metadata); never secrets or balances. */
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];

  constructor(message: string, metadata: Record<string, string> = {}, fieldViolations: FieldViolation[] = []) {
    super(message);
    this.name = new.target.name;
    this.metadata = metadata;
    this.fieldViolations = fieldViolations;
  }
}

/** A field is malformed (UUID, key length, description length, missing field). */
export class InvalidArgumentError extends BankError {
  readonly reason = 'INVALID_ARGUMENT';
  constructor(violations: FieldViolation[]) {
    super(`invalid request: ${violations.map((v) => `${v.field}: ${v.description}`).join('; ')}`, {}, violations);
  }
}

/** Amount is not positive, or above the configured maximum. */
export class InvalidAmountError extends BankError {
  readonly reason = 'INVALID_AMOUNT';
  constructor(field: string, description: string) {
    super(`invalid amount: ${description}`, { field }, [{ field, description }]);
  }
}

export type AccountRole = 'sender' | 'recipient' | 'account';

/** No customer account with this id (system accounts are not addressable). */
export class AccountNotFoundError extends BankError {
  readonly reason = 'ACCOUNT_NOT_FOUND';
  constructor(
    readonly accountId: string,
    readonly role: AccountRole,
  ) {
    super(`${role} account ${accountId} not found`, { accountId, role });
  }
}

export class InsufficientFundsError extends BankError {
  readonly reason = 'INSUFFICIENT_FUNDS';
  constructor(accountId: string) {
    super(`account ${accountId} has insufficient funds for this transfer`, { accountId });
  }
}

export class SameAccountError extends BankError {
  readonly reason = 'SAME_ACCOUNT';
  constructor(accountId: string) {
    super('sender and recipient are the same account', { accountId });
  }
}

export class CurrencyMismatchError extends BankError {
  readonly reason = 'CURRENCY_MISMATCH';
  constructor(accountId: string, accountCurrency: string, requestedCurrency: string) {
    super(`account ${accountId} holds ${accountCurrency}, the request is in ${requestedCurrency}`, {
      accountId,
      accountCurrency,
      requestedCurrency,
    });
  }
}

/** The idempotency key (or deposit reference) was already used for a different request. */
export class IdempotencyKeyReusedError extends BankError {
  readonly reason = 'IDEMPOTENCY_KEY_REUSED';
  constructor(field: 'idempotency_key' | 'deposit_reference' | 'refund_reference') {
    super(`${field} was already used with a different request`, { field });
  }
}

/** A request with the same idempotency key is still executing; retry later. */
export class IdempotencyKeyInFlightError extends BankError {
  readonly reason = 'IDEMPOTENCY_KEY_IN_FLIGHT';
  constructor() {
    super('a request with this idempotency key is still in progress');
  }
}

/** PostgreSQL unreachable, overloaded or too slow; safe to retry with the same key. */
export class StorageUnavailableError extends BankError {
  readonly reason = 'STORAGE_UNAVAILABLE';
  constructor(cause: 'unreachable' | 'timeout' | 'overloaded' | 'contention', options?: { cause?: unknown }) {
    super(`storage unavailable (${cause}); retry with the same idempotency key`, { cause });
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** DepositMoney named a reference that GetDeposit voided (or bound to a failure): it never applies. */
export class DepositReferenceVoidedError extends BankError {
  readonly reason = 'DEPOSIT_REFERENCE_VOIDED';
  constructor() {
    super('deposit_reference was voided: no deposit was applied with it and none ever will be', { field: 'deposit_reference' });
  }
}

/** The caller's deadline passed while the request waited to run; nothing executed. */
export class DeadlineExceededError extends BankError {
  readonly reason = 'DEADLINE_EXCEEDED';
  constructor() {
    super('the deadline passed before the request ran; nothing was executed');
  }
}

/** The caller cancelled while the request waited to run; nothing executed. */
export class CancelledError extends BankError {
  readonly reason = 'CANCELLED';
  constructor() {
    super('the call was cancelled before the request ran; nothing was executed');
  }
}

/**
 * No caller identity, or one that does not verify (token missing, malformed,
 * expired, other issuer or audience, bad signature; service credential
 * missing or wrong). The description is safe to show: never the token.
 */
export class CallerUnauthenticatedError extends BankError {
  readonly reason = 'CALLER_UNAUTHENTICATED';
  constructor(description: string) {
    super(`caller not authenticated: ${description}`);
  }
}

/** The caller's role may not do this (support moving money or opening accounts, a customer naming another owner). */
export class RoleForbiddenError extends BankError {
  readonly reason = 'ROLE_FORBIDDEN';
  constructor(action: string) {
    super(`the caller's role may not ${action}`, { action });
  }
}

/** The token issuer's keys could not be fetched: the caller could not be verified; nothing executed. */
export class IdentityUnavailableError extends BankError {
  readonly reason = 'IDENTITY_UNAVAILABLE';
  constructor(options?: { cause?: unknown }) {
    super('the token issuer is unreachable; retry later');
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

// ---------------------------------------------------------------- Issue #15

export type HoldStatusName = 'pending' | 'captured' | 'voided' | 'expired';

/** No such hold, or one the caller may not see (answered exactly like an unknown one). */
export class HoldNotFoundError extends BankError {
  readonly reason = 'HOLD_NOT_FOUND';
  constructor(holdId: string) {
    super(`hold ${holdId} not found`, { holdId });
  }
}

/** The hold is already final: another capture, void or the expiry won. */
export class HoldNotPendingError extends BankError {
  readonly reason = 'HOLD_NOT_PENDING';
  constructor(holdId: string, status: Exclude<HoldStatusName, 'pending'>) {
    super(`hold ${holdId} is ${status}, not pending`, { holdId, status });
  }
}

export class CaptureExceedsHoldError extends BankError {
  readonly reason = 'CAPTURE_EXCEEDS_HOLD';
  constructor(holdId: string, heldAmount: string) {
    super(`the capture amount is above the held amount ${heldAmount}`, { holdId, heldAmount }, [
      { field: 'amount', description: `must be at most the held amount ${heldAmount}` },
    ]);
  }
}

/** No such transfer, or one the caller may not see. */
export class TransferNotFoundError extends BankError {
  readonly reason = 'TRANSFER_NOT_FOUND';
  constructor(transferId: string) {
    super(`transfer ${transferId} not found`, { transferId });
  }
}

/** `remaining`: decimal string of what is still reversible. */
export class ReversalExceedsRemainingError extends BankError {
  readonly reason = 'REVERSAL_EXCEEDS_REMAINING';
  constructor(transferId: string, remaining: string) {
    super(`at most ${remaining} of transfer ${transferId} remains to reverse`, { transferId, remaining });
  }
}

export class ReversalWouldOverdrawError extends BankError {
  readonly reason = 'REVERSAL_WOULD_OVERDRAW';
  constructor(accountId: string) {
    super(`the reversal would overdraw account ${accountId}; only an admin may force it`, { accountId });
  }
}

export type LimitName = 'daily' | 'monthly' | 'overdraft';

/** `remaining`: decimal string of the allowance left in that limit's window. */
export class LimitExceededError extends BankError {
  readonly reason = 'LIMIT_EXCEEDED';
  constructor(accountId: string, limit: LimitName, remaining: string) {
    super(`the ${limit} limit of account ${accountId} allows at most ${remaining} more`, { accountId, limit, remaining });
  }
}

export class LimitAboveMaximumError extends BankError {
  readonly reason = 'LIMIT_ABOVE_MAXIMUM';
  constructor(limit: 'daily' | 'monthly', maximum: string) {
    super(`the ${limit} limit may be at most ${maximum}`, { limit, maximum }, [
      { field: `${limit}Limit`, description: `must be at most ${maximum}` },
    ]);
  }
}

export class DepositNotFoundError extends BankError {
  readonly reason = 'DEPOSIT_NOT_FOUND';
  constructor(topUpId: string) {
    super(`no deposit for top-up ${topUpId}`, { topUpId });
  }
}

export class RefundExceedsDepositError extends BankError {
  readonly reason = 'REFUND_EXCEEDS_DEPOSIT';
  constructor(topUpId: string, remaining: string) {
    super(`at most ${remaining} of top-up ${topUpId} remains to refund`, { topUpId, remaining });
  }
}

export class RefundReferenceVoidedError extends BankError {
  readonly reason = 'REFUND_REFERENCE_VOIDED';
  constructor() {
    super('refund_reference was voided: no refund was applied with it and none ever will be', { field: 'refund_reference' });
  }
}

export class RefundNotCancellableError extends BankError {
  readonly reason = 'REFUND_NOT_CANCELLABLE';
  constructor(refundReference: string, status: string) {
    super(`refund ${refundReference} is ${status}; only a debited refund can be cancelled`, { status });
  }
}

/**
 * Business failures decided against the ledger, under the row locks: the
 * request executed, so its key (or deposit reference) is bound to this answer
 * and a retry replays it (ADR 0003). Everything else leaves the key free.
 */
export const BOUND_FAILURE_REASONS = ['ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH', 'INSUFFICIENT_FUNDS', 'LIMIT_EXCEEDED'] as const;
export type BoundFailureReason = (typeof BOUND_FAILURE_REASONS)[number];

export function isBoundFailure(error: unknown): error is BankError & { reason: BoundFailureReason } {
  return error instanceof BankError && (BOUND_FAILURE_REASONS as readonly string[]).includes(error.reason);
}

/** The stored answer of an executed request that failed, rebuilt for a replay (metadata.replayed = "true"). */
export function replayedFailure(reason: BoundFailureReason, metadata: Record<string, string>): BankError {
  const m = (key: string) => metadata[key] ?? '';
  let error: BankError;
  switch (reason) {
    case 'ACCOUNT_NOT_FOUND':
      error = new AccountNotFoundError(m('accountId'), (m('role') || 'account') as AccountRole);
      break;
    case 'CURRENCY_MISMATCH':
      error = new CurrencyMismatchError(m('accountId'), m('accountCurrency'), m('requestedCurrency'));
      break;
    case 'INSUFFICIENT_FUNDS':
      error = new InsufficientFundsError(m('accountId'));
      break;
    case 'LIMIT_EXCEEDED':
      error = new LimitExceededError(m('accountId'), (m('limit') || 'daily') as LimitName, m('remaining'));
      break;
  }
  error.metadata.replayed = 'true';
  return error;
}

export function isBankError(error: unknown): error is BankError {
  return error instanceof BankError;
}
