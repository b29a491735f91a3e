// The refund-to-card saga's decisions (domain/refund.ts): what happens after
// each failure, and that nothing is cancelled or refunded on a guess.
import { describe, expect, it } from 'vitest';
import {
  canRefundTransition,
  decideAfterCardRefundFailure,
  decideAfterDebitFailure,
  refundAmount,
  refundStatus,
  resolveCardRefund,
  resolveUnknownDebit,
} from '../../src/domain/refund.js';

describe('refund state machine', () => {
  it('goes DEBITING -> DEBITED -> SUCCEEDED, or to FAILED only before a debit or after the cancel', () => {
    expect(canRefundTransition('DEBITING', 'DEBITED')).toBe(true);
    expect(canRefundTransition('DEBITED', 'SUCCEEDED')).toBe(true);
    expect(canRefundTransition('DEBITED', 'FAILED')).toBe(false);
    expect(canRefundTransition('CANCELLING', 'FAILED')).toBe(true);
    expect(canRefundTransition('SUCCEEDED', 'CANCELLING')).toBe(false);
    expect([refundStatus('DEBITED'), refundStatus('SUCCEEDED'), refundStatus('FAILED'), refundStatus('CANCELLING')]).toEqual(['pending', 'succeeded', 'failed', 'pending']);
  });

  it('refunds what is asked or all that remains, never more', () => {
    expect(refundAmount({ requestedMinor: undefined, topUpMinor: 1_000n, refundedMinor: 300n })).toEqual({ ok: true, amountMinor: 700n });
    expect(refundAmount({ requestedMinor: 701n, topUpMinor: 1_000n, refundedMinor: 300n })).toEqual({ ok: false, remainingMinor: 700n });
    expect(refundAmount({ requestedMinor: undefined, topUpMinor: 1_000n, refundedMinor: 1_000n })).toEqual({ ok: false, remainingMinor: 0n });
  });
});

describe('the wallet debit', () => {
  it('fails only on the bank\'s definitive refusal; retries, then looks up anything else', () => {
    expect(decideAfterDebitFailure({ failure: 'rejected', attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'fail' });
    expect(decideAfterDebitFailure({ failure: 'retryable', attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'retry' });
    expect(decideAfterDebitFailure({ failure: 'retryable', attemptsDone: 3, attemptsMax: 3 })).toEqual({ action: 'look_up' });
    expect(decideAfterDebitFailure({ failure: 'not_sent', attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'look_up' });
    expect(decideAfterDebitFailure({ failure: 'unauthorized', attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'look_up' });
  });

  it('treats only VOIDED as proof that nothing was debited; waits while the bank cannot say', () => {
    expect(resolveUnknownDebit({ status: 'debited' })).toEqual({ action: 'debited' });
    expect(resolveUnknownDebit({ status: 'voided' })).toEqual({ action: 'fail', reason: 'REFUND_NOT_APPLIED' });
    expect(resolveUnknownDebit({ status: 'not_found' })).toEqual({ action: 'wait' });
    expect(resolveUnknownDebit({ status: 'unreachable' })).toEqual({ action: 'wait' });
  });
});

describe('the card refund', () => {
  it('looks up every refusal and every ambiguous failure; retries "not processed" while attempts last', () => {
    for (const kind of ['rejected', 'unknown', 'timeout'] as const) {
      expect(decideAfterCardRefundFailure({ kind, attemptsDone: 1, attemptsMax: 3, retryPointless: false })).toEqual({ action: 'look_up' });
    }
    expect(decideAfterCardRefundFailure({ kind: 'not_processed', attemptsDone: 1, attemptsMax: 3, retryPointless: false })).toEqual({ action: 'retry' });
    expect(decideAfterCardRefundFailure({ kind: 'not_processed', attemptsDone: 1, attemptsMax: 3, retryPointless: true })).toEqual({ action: 'wait' });
  });

  it('cancels the debit only for a refusal with no refund at the gateway; a found refund wins; an unknown lookup waits', () => {
    expect(resolveCardRefund({ lookup: { found: true, refundId: 're_1' }, refused: true, attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'succeeded', refundId: 're_1' });
    expect(resolveCardRefund({ lookup: { found: false }, refused: true, attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'cancel' });
    expect(resolveCardRefund({ lookup: { found: false }, refused: false, attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'retry' });
    expect(resolveCardRefund({ lookup: { found: false }, refused: false, attemptsDone: 3, attemptsMax: 3 })).toEqual({ action: 'wait' });
    expect(resolveCardRefund({ lookup: { found: 'unknown' }, refused: true, attemptsDone: 1, attemptsMax: 3 })).toEqual({ action: 'wait' });
  });
});
