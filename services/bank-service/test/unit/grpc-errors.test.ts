import { status as Status } from '@grpc/grpc-js';
import { ErrorReason } from '@wallet/contracts/bank';
import { parseGrpcError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import {
  AccountNotFoundError,
  CallerUnauthenticatedError,
  CurrencyMismatchError,
  IdentityUnavailableError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  InvalidAmountError,
  InvalidArgumentError,
  RoleForbiddenError,
  SameAccountError,
  StorageUnavailableError,
  type BankError,
} from '../../src/domain/errors.js';
import { ERROR_DOMAIN, reasonName, STATUS_BY_REASON, toGrpcError } from '../../src/grpc/errors.js';

const A = '123e4567-e89b-12d3-a456-426614174000';

describe('domain error -> gRPC status mapping', () => {
  it.each<[BankError, Status, string]>([
    [new InvalidArgumentError([{ field: 'sender_account_id', description: 'must be a UUID' }]), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
    [new InvalidAmountError('amount.amount_minor', 'must be greater than zero'), Status.INVALID_ARGUMENT, 'INVALID_AMOUNT'],
    [new AccountNotFoundError(A, 'recipient'), Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND'],
    [new InsufficientFundsError(A), Status.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS'],
    [new SameAccountError(A), Status.FAILED_PRECONDITION, 'SAME_ACCOUNT'],
    [new CurrencyMismatchError(A, 'USD', 'EUR'), Status.FAILED_PRECONDITION, 'CURRENCY_MISMATCH'],
    [new IdempotencyKeyReusedError('idempotency_key'), Status.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED'],
    [new IdempotencyKeyInFlightError(), Status.ABORTED, 'IDEMPOTENCY_KEY_IN_FLIGHT'],
    [new StorageUnavailableError('unreachable'), Status.UNAVAILABLE, 'STORAGE_UNAVAILABLE'],
    [new CallerUnauthenticatedError('no access token'), Status.UNAUTHENTICATED, 'CALLER_UNAUTHENTICATED'],
    [new RoleForbiddenError('move money'), Status.PERMISSION_DENIED, 'ROLE_FORBIDDEN'],
    [new IdentityUnavailableError(), Status.UNAVAILABLE, 'IDENTITY_UNAVAILABLE'],
  ])('%s -> its status code and ErrorInfo reason', (error, code, reason) => {
    const parsed = parseGrpcError(toGrpcError(error));
    expect(parsed.code).toBe(code);
    expect(parsed.reason).toBe(reason);
    expect(parsed.domain).toBe(ERROR_DOMAIN);
    expect(parsed.metadata).toEqual(error.metadata);
  });

  it('carries field violations as google.rpc.BadRequest', () => {
    const parsed = parseGrpcError(
      toGrpcError(
        new InvalidArgumentError([
          { field: 'sender_account_id', description: 'must be a UUID' },
          { field: 'description', description: 'must be at most 140 characters' },
        ]),
      ),
    );
    expect(parsed.fieldViolations.map((v) => v.field)).toEqual(['sender_account_id', 'description']);
  });

  it('names which account was not found in the metadata', () => {
    expect(parseGrpcError(toGrpcError(new AccountNotFoundError(A, 'sender'))).metadata).toEqual({ accountId: A, role: 'sender' });
  });

  it('uses reason names that exist in the proto ErrorReason enum', () => {
    for (const reason of Object.keys(STATUS_BY_REASON) as Array<keyof typeof STATUS_BY_REASON>) {
      expect(ErrorReason[`ERROR_REASON_${reason}` as keyof typeof ErrorReason]).toBeGreaterThan(0);
      expect(reasonName(reason)).toBe(reason);
    }
  });

  it('covers every proto reason except UNSPECIFIED', () => {
    const protoReasons = Object.keys(ErrorReason)
      .filter((k) => k.startsWith('ERROR_REASON_') && k !== 'ERROR_REASON_UNSPECIFIED')
      .map((k) => k.replace('ERROR_REASON_', ''));
    expect(Object.keys(STATUS_BY_REASON).sort()).toEqual(protoReasons.sort());
  });

  it('hides unexpected errors behind INTERNAL without details', () => {
    const parsed = parseGrpcError(toGrpcError(new Error('relation "bank.secret" does not exist')));
    expect(parsed.code).toBe(Status.INTERNAL);
    expect(parsed.reason).toBeUndefined();
    expect(parsed.message).toBe('internal error');
  });
});
