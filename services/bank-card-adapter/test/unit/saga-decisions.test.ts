import { describe, expect, it } from 'vitest';
import { BankCallError, classifyDepositError, type GrpcCodeName } from '../../src/clients/bank.js';
import {
  decideAfterChargeFailure,
  decideAfterDepositFailure,
  decideAfterRefundFailure,
  isAmbiguous,
  leaseMs,
  resolveUnknownCharge,
  resolveUnknownDeposit,
  waitDelayMs,
} from '../../src/domain/saga.js';

const bankError = (code: GrpcCodeName, domain?: string, reason?: string, message = '') => new BankCallError(code, reason, domain, message);

describe('charge failures', () => {
  const base = { attemptsDone: 1, maxAttempts: 3, everAmbiguous: false };

  it('retries with the same key while attempts remain', () => {
    expect(decideAfterChargeFailure({ ...base, kind: 'not_processed' })).toEqual({ action: 'retry' });
    expect(decideAfterChargeFailure({ ...base, kind: 'timeout', everAmbiguous: true })).toEqual({ action: 'retry' });
    expect(decideAfterChargeFailure({ ...base, kind: 'unknown', everAmbiguous: true })).toEqual({ action: 'retry' });
  });

  it('fails (nothing charged) when every attempt was certainly not processed', () => {
    const decision = decideAfterChargeFailure({ ...base, attemptsDone: 3, kind: 'not_processed' });
    expect(decision).toMatchObject({ action: 'fail', reason: 'PAYMENT_GATEWAY_ERROR' });
  });

  it('looks the charge up when any attempt may have charged', () => {
    expect(decideAfterChargeFailure({ ...base, attemptsDone: 3, kind: 'timeout', everAmbiguous: true })).toEqual({ action: 'resolve_unknown' });
    expect(decideAfterChargeFailure({ ...base, attemptsDone: 3, kind: 'not_processed', everAmbiguous: true })).toEqual({
      action: 'resolve_unknown',
    });
  });

  it('a permanent refusal fails at once, unless an earlier attempt may have charged', () => {
    expect(decideAfterChargeFailure({ ...base, kind: 'rejected' })).toMatchObject({ action: 'fail' });
    expect(decideAfterChargeFailure({ ...base, kind: 'rejected', everAmbiguous: true })).toEqual({ action: 'resolve_unknown' });
  });

  it('knows which failures are ambiguous', () => {
    expect(['not_processed', 'unknown', 'timeout', 'rejected'].filter((k) => isAmbiguous(k as never))).toEqual(['unknown', 'timeout']);
  });
});

describe('resolving an unknown charge', () => {
  const now = new Date('2026-01-01T00:01:00Z');
  const base = { now, gatewayTimeoutMs: 5_000, graceMs: 10_000, lastChargeError: 'timeout' };

  it('a charge found under the key is the outcome', () => {
    expect(
      resolveUnknownCharge({ ...base, lookup: { found: true, status: 'succeeded', chargeId: 'ch_1' }, lastAttemptAt: now }),
    ).toEqual({ action: 'charged', chargeId: 'ch_1' });
    expect(
      resolveUnknownCharge({ ...base, lookup: { found: true, status: 'declined', chargeId: 'ch_2', declineCode: 'lost_card' }, lastAttemptAt: now }),
    ).toEqual({ action: 'declined', chargeId: 'ch_2', declineCode: 'lost_card' });
    expect(resolveUnknownCharge({ ...base, lookup: { found: true, status: 'declined', chargeId: 'ch_3' }, lastAttemptAt: now })).toMatchObject({
      declineCode: 'generic_decline',
    });
  });

  it('no charge is trusted only after the deadline plus the grace period', () => {
    const recent = new Date(now.getTime() - 14_999);
    const old = new Date(now.getTime() - 15_000);
    expect(resolveUnknownCharge({ ...base, lookup: { found: false }, lastAttemptAt: recent })).toEqual({ action: 'wait' });
    expect(resolveUnknownCharge({ ...base, lookup: { found: false }, lastAttemptAt: old })).toMatchObject({
      action: 'fail',
      reason: 'PAYMENT_GATEWAY_TIMEOUT',
    });
  });

  it('reports a gateway error when the last attempt did not time out', () => {
    expect(resolveUnknownCharge({ ...base, lastChargeError: 'unknown', lookup: { found: false }, lastAttemptAt: null })).toMatchObject({
      action: 'fail',
      reason: 'PAYMENT_GATEWAY_ERROR',
    });
  });
});

describe('deposit failures', () => {
  it('only a business refusal from the bank itself proves the deposit was not applied', () => {
    expect(classifyDepositError(bankError('NOT_FOUND', 'bank.wallet', 'ACCOUNT_NOT_FOUND'))).toBe('rejected');
    expect(classifyDepositError(bankError('FAILED_PRECONDITION', 'bank.wallet', 'DEPOSIT_REFERENCE_VOIDED'))).toBe('rejected');
    expect(classifyDepositError(bankError('FAILED_PRECONDITION', 'bank.wallet', 'CURRENCY_MISMATCH'))).toBe('rejected');
    expect(classifyDepositError(bankError('INVALID_ARGUMENT', 'bank.wallet', 'INVALID_AMOUNT'))).toBe('rejected');
  });

  it('anything that may hide an applied deposit is retryable, never a reason to refund', () => {
    // The bank's own UNAVAILABLE too: PostgreSQL may have committed before the bank lost the reply.
    expect(classifyDepositError(bankError('UNAVAILABLE', 'bank.wallet', 'STORAGE_UNAVAILABLE'))).toBe('retryable');
    expect(classifyDepositError(bankError('UNAVAILABLE', undefined, undefined, 'No connection established. Last error: connect ECONNREFUSED'))).toBe('retryable');
    expect(classifyDepositError(bankError('UNAVAILABLE', undefined, undefined, 'Connection dropped'))).toBe('retryable');
    for (const code of ['DEADLINE_EXCEEDED', 'CANCELLED', 'INTERNAL', 'UNKNOWN', 'ABORTED', 'RESOURCE_EXHAUSTED', 'UNIMPLEMENTED'] as const) {
      expect(classifyDepositError(bankError(code)), code).toBe('retryable');
    }
    // A refusal without the bank's ErrorInfo (a proxy, a misrouted call) proves nothing either.
    expect(classifyDepositError(bankError('NOT_FOUND'))).toBe('retryable');
  });

  it('a refused credential is a refusal of the caller, not of the deposit: classified apart from both', () => {
    expect(classifyDepositError(bankError('UNAUTHENTICATED', 'bank.wallet', 'CALLER_UNAUTHENTICATED'))).toBe('unauthorized');
    expect(classifyDepositError(bankError('UNAUTHENTICATED'))).toBe('unauthorized');
    expect(classifyDepositError(bankError('PERMISSION_DENIED', 'bank.wallet', 'ROLE_FORBIDDEN'))).toBe('unauthorized');
  });

  const base = { attemptsDone: 1, attemptsMax: 4, elapsedMs: 0, nextDelayMs: 100, retryMsMax: 10_000 };

  it('a refused credential stops the attempts and asks the bank: never refunded on that guess, never retried in vain', () => {
    expect(decideAfterDepositFailure({ ...base, failure: 'unauthorized' })).toEqual({ action: 'look_up' });
  });

  it('refunds at once after a definitive refusal', () => {
    expect(decideAfterDepositFailure({ ...base, failure: 'rejected' })).toEqual({ action: 'refund' });
  });

  it('retries within the attempt and time bounds', () => {
    expect(decideAfterDepositFailure({ ...base, failure: 'retryable' })).toEqual({ action: 'retry' });
  });

  it('when the bounds run out, asks the bank instead of refunding', () => {
    expect(decideAfterDepositFailure({ ...base, attemptsDone: 4, failure: 'retryable' })).toEqual({ action: 'look_up' });
    expect(decideAfterDepositFailure({ ...base, elapsedMs: 9_950, failure: 'retryable' })).toEqual({ action: 'look_up' });
  });

  it('settles an unknown deposit only on the bank\'s word: applied completes, voided refunds, anything else waits', () => {
    expect(resolveUnknownDeposit({ status: 'applied', depositId: 'd1' })).toEqual({ action: 'complete', depositId: 'd1' });
    expect(resolveUnknownDeposit({ status: 'voided' })).toEqual({ action: 'refund' });
    expect(resolveUnknownDeposit({ status: 'not_found' })).toEqual({ action: 'wait' });
    expect(resolveUnknownDeposit({ status: 'unreachable' })).toEqual({ action: 'wait' });
    expect(resolveUnknownDeposit({ status: 'unauthorized' })).toEqual({ action: 'wait' });
  });

  it('waits durably with a bounded exponential backoff', () => {
    expect([0, 1, 2, 3, 10, 100].map((n) => waitDelayMs(n, 100, 1_000))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });
});

describe('refund failures and leases', () => {
  it('retries transient refund failures, then leaves them to recovery', () => {
    expect(decideAfterRefundFailure({ kind: 'timeout', attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'retry' });
    expect(decideAfterRefundFailure({ kind: 'unknown', attemptsDone: 3, attemptsMax: 3 })).toEqual({ action: 'leave_pending' });
  });

  it('gives up on a refused refund (REFUND_FAILED, manual action) instead of leaving it pending forever', () => {
    expect(decideAfterRefundFailure({ kind: 'rejected', attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'give_up' });
  });

  it('a lease outlives the call it covers', () => {
    expect(leaseMs(5_000, 2_000)).toBe(7_000);
  });
});
