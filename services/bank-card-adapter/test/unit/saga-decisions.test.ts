import { describe, expect, it } from 'vitest';
import {
  classifyDepositError,
  decideAfterChargeFailure,
  decideAfterDepositFailure,
  decideAfterRefundFailure,
  isAmbiguous,
  leaseMs,
  resolveUnknownCharge,
} from '../../src/domain/saga.js';

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
  it('classifies bank answers and transport failures', () => {
    expect(classifyDepositError({ code: 'NOT_FOUND', domain: 'bank.wallet', message: '' })).toBe('permanent');
    expect(classifyDepositError({ code: 'FAILED_PRECONDITION', domain: 'bank.wallet', message: '' })).toBe('permanent');
    expect(classifyDepositError({ code: 'INVALID_ARGUMENT', message: '' })).toBe('permanent');
    expect(classifyDepositError({ code: 'UNIMPLEMENTED', message: '' })).toBe('permanent');
    expect(classifyDepositError({ code: 'UNAVAILABLE', domain: 'bank.wallet', message: 'storage down' })).toBe('transient_not_applied');
    expect(classifyDepositError({ code: 'UNAVAILABLE', message: 'No connection established. Last error: connect ECONNREFUSED' })).toBe(
      'transient_not_applied',
    );
    expect(classifyDepositError({ code: 'UNAVAILABLE', message: 'Connection dropped' })).toBe('transient_ambiguous');
    expect(classifyDepositError({ code: 'ABORTED', domain: 'bank.wallet', message: '' })).toBe('transient_not_applied');
    expect(classifyDepositError({ code: 'RESOURCE_EXHAUSTED', message: '' })).toBe('transient_not_applied');
    expect(classifyDepositError({ code: 'DEADLINE_EXCEEDED', message: '' })).toBe('transient_ambiguous');
    expect(classifyDepositError({ code: 'INTERNAL', message: '' })).toBe('transient_ambiguous');
    expect(classifyDepositError({ code: 'UNKNOWN', message: '' })).toBe('transient_ambiguous');
  });

  const base = { attemptsDone: 1, maxAttempts: 4, elapsedMs: 0, nextDelayMs: 100, budgetMs: 10_000, everAmbiguous: false };

  it('refunds at once after a permanent refusal', () => {
    expect(decideAfterDepositFailure({ ...base, failure: 'permanent' })).toEqual({ action: 'refund' });
    expect(decideAfterDepositFailure({ ...base, failure: 'permanent', everAmbiguous: true })).toEqual({ action: 'refund' });
  });

  it('retries transient failures within the attempt and time bounds', () => {
    expect(decideAfterDepositFailure({ ...base, failure: 'transient_not_applied' })).toEqual({ action: 'retry' });
    expect(decideAfterDepositFailure({ ...base, failure: 'transient_ambiguous', everAmbiguous: true })).toEqual({ action: 'retry' });
  });

  it('refunds when the bounds run out and the deposit certainly does not exist', () => {
    expect(decideAfterDepositFailure({ ...base, attemptsDone: 4, failure: 'transient_not_applied' })).toEqual({ action: 'refund' });
    expect(decideAfterDepositFailure({ ...base, elapsedMs: 9_950, failure: 'transient_not_applied' })).toEqual({ action: 'refund' });
  });

  it('never refunds blindly when a deposit may have been applied: leaves it to recovery', () => {
    expect(decideAfterDepositFailure({ ...base, attemptsDone: 4, failure: 'transient_ambiguous', everAmbiguous: true })).toEqual({
      action: 'leave_pending',
    });
    expect(decideAfterDepositFailure({ ...base, attemptsDone: 4, failure: 'transient_not_applied', everAmbiguous: true })).toEqual({
      action: 'leave_pending',
    });
  });
});

describe('refund failures and leases', () => {
  it('retries refunds, then leaves them to recovery', () => {
    expect(decideAfterRefundFailure({ kind: 'timeout', attemptsDone: 1, maxAttempts: 3 })).toEqual({ action: 'retry' });
    expect(decideAfterRefundFailure({ kind: 'unknown', attemptsDone: 3, maxAttempts: 3 })).toEqual({ action: 'leave_pending' });
    expect(decideAfterRefundFailure({ kind: 'rejected', attemptsDone: 1, maxAttempts: 3 })).toEqual({ action: 'leave_pending' });
  });

  it('a lease outlives the call it covers', () => {
    expect(leaseMs(5_000, 2_000)).toBe(7_000);
  });
});
