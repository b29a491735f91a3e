// One error class per failure a caller can act on. The reason names are the
// proto's ErrorReason names without the ERROR_REASON_ prefix; the gRPC layer
// maps each class to a status code once (src/grpc/errors.ts).

export type BankErrorReason =
  | 'INVALID_ARGUMENT'
  | 'INVALID_AMOUNT'
  | 'ACCOUNT_NOT_FOUND'
  | 'INSUFFICIENT_FUNDS'
  | 'SAME_ACCOUNT'
  | 'CURRENCY_MISMATCH'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_FLIGHT'
  | 'STORAGE_UNAVAILABLE';

// One shape for a bad field everywhere (gRPC BadRequest, problem+json errors[]).
import type { FieldViolation } from '@wallet/platform';
export type { FieldViolation };

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
  constructor(field: 'idempotency_key' | 'deposit_reference') {
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

export function isBankError(error: unknown): error is BankError {
  return error instanceof BankError;
}
