import { describe, expect, it } from 'vitest';
import { decideOnExistingTopUp } from '../../src/domain/idempotency.js';
import {
  TOP_UP_STATES,
  UNFINISHED_STATES,
  InvalidTransitionError,
  assertTransition,
  canTransition,
  chargeIdempotencyKey,
  declineReason,
  depositReference,
  isTerminal,
  isTopUpState,
  chargedStatus,
  outcomeOf,
  refundIdempotencyKey,
  type TopUpRecord,
  type TopUpState,
} from '../../src/domain/top-up.js';

function record(state: TopUpState, overrides: Partial<TopUpRecord> = {}): TopUpRecord {
  return {
    id: '11111111-2222-3333-4444-555555555555',
    accountId: '123e4567-e89b-12d3-a456-426614174000',
    idempotencyKey: 'k',
    requestHash: 'h',
    amountMinor: 2_500n,
    currency: 'USD',
    cardLast4: '4242',
    cardBrand: 'visa',
    initiatedBy: '11111111-1111-4111-8111-111111111111',
    state,
    chargeId: null,
    declineCode: null,
    failureReason: null,
    failureMessage: null,
    depositId: null,
    depositError: null,
    refundId: null,
    chargeAttempts: 0,
    depositAttempts: 0,
    refundAttempts: 0,
    chargeOutcomeUnknown: false,
    depositOutcomeUnknown: false,
    waitRounds: 0,
    reconciledAt: null,
    lastChargeError: null,
    lastChargeAttemptAt: null,
    createdAt: new Date(),
    updatedAt: new Date(),
    ...overrides,
  };
}

describe('top-up state machine', () => {
  it('allows exactly the saga paths', () => {
    const allowed = TOP_UP_STATES.flatMap((from) => TOP_UP_STATES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`));
    expect(allowed.sort()).toEqual(
      [
        'RECEIVED->CHARGING',
        'RECEIVED->FAILED',
        'CHARGING->CHARGED',
        'CHARGING->DECLINED',
        'CHARGING->FAILED',
        'CHARGED->COMPLETED',
        'CHARGED->REFUNDING',
        'REFUNDING->REFUNDED',
        'REFUNDING->REFUND_FAILED',
        'FAILED->REFUNDING',
      ].sort(),
    );
  });

  it('never deposits after deciding to refund, never refunds after completing', () => {
    expect(canTransition('REFUNDING', 'COMPLETED')).toBe(false);
    expect(canTransition('COMPLETED', 'REFUNDING')).toBe(false);
    expect(() => assertTransition('COMPLETED', 'REFUNDING')).toThrow(InvalidTransitionError);
    expect(() => assertTransition('CHARGED', 'COMPLETED')).not.toThrow();
  });

  it('cannot skip the charge', () => {
    expect(canTransition('RECEIVED', 'CHARGED')).toBe(false);
    expect(canTransition('RECEIVED', 'COMPLETED')).toBe(false);
  });

  it('has four final states and four unfinished ones', () => {
    expect(TOP_UP_STATES.filter(isTerminal)).toEqual(['COMPLETED', 'DECLINED', 'REFUNDED', 'REFUND_FAILED', 'FAILED']);
    expect(UNFINISHED_STATES).toEqual(['RECEIVED', 'CHARGING', 'CHARGED', 'REFUNDING']);
  });

  it('says whether the card is left charged: unknown while a charge is unconfirmed', () => {
    expect(TOP_UP_STATES.filter((s) => chargedStatus(s) === 'true')).toEqual(['CHARGED', 'COMPLETED', 'REFUNDING', 'REFUND_FAILED']);
    expect(TOP_UP_STATES.filter((s) => chargedStatus(s) === 'unknown')).toEqual(['CHARGING']);
  });

  it('recognises its states', () => {
    expect(isTopUpState('CHARGED')).toBe(true);
    expect(isTopUpState('charged')).toBe(false);
  });

  it('derives every downstream key from the top-up id', () => {
    const id = 'abc';
    expect(new Set([chargeIdempotencyKey(id), refundIdempotencyKey(id), depositReference(id)]).size).toBe(3);
    expect(chargeIdempotencyKey(id)).toBe(chargeIdempotencyKey(id));
    expect(depositReference(id)).toContain(id);
  });
});

describe('top-up outcome (first answer = every replay)', () => {
  it('completed is a success', () => {
    expect(outcomeOf(record('COMPLETED', { chargeId: 'ch', depositId: 'd' })).kind).toBe('completed');
  });

  it('declined: CARD_DECLINED with the decline code, nothing charged', () => {
    const outcome = outcomeOf(record('DECLINED', { declineCode: 'generic_decline' }), { replayed: true });
    expect(outcome.kind).toBe('failed');
    if (outcome.kind !== 'failed') return;
    expect(outcome.failure.reason).toBe('CARD_DECLINED');
    expect(outcome.failure.charged).toBe('false');
    expect(outcome.failure.metadata).toMatchObject({ decline_code: 'generic_decline', replayed: 'true' });
  });

  it('insufficient funds has its own reason', () => {
    const outcome = outcomeOf(record('DECLINED', { declineCode: 'insufficient_funds' }));
    expect(outcome.kind === 'failed' && outcome.failure.reason).toBe('CARD_INSUFFICIENT_FUNDS');
    expect(declineReason(null)).toBe('CARD_DECLINED');
    const noCode = outcomeOf(record('DECLINED'));
    expect(noCode.kind === 'failed' && noCode.failure.message).toContain('unknown');
  });

  it('refunded: DEPOSIT_FAILED_REFUNDED, charged=false, with the deposit error', () => {
    const outcome = outcomeOf(record('REFUNDED', { depositError: 'ACCOUNT_NOT_FOUND' }));
    expect(outcome.kind === 'failed' && outcome.failure.reason).toBe('DEPOSIT_FAILED_REFUNDED');
    expect(outcome.kind === 'failed' && outcome.failure.charged).toBe('false');
    expect(outcome.kind === 'failed' && outcome.failure.metadata.deposit_error).toBe('ACCOUNT_NOT_FOUND');
  });

  it('failed: the stored reason, or a gateway error by default', () => {
    const timeout = outcomeOf(record('FAILED', { failureReason: 'PAYMENT_GATEWAY_TIMEOUT', failureMessage: 'late' }));
    expect(timeout.kind === 'failed' && timeout.failure.reason).toBe('PAYMENT_GATEWAY_TIMEOUT');
    expect(timeout.kind === 'failed' && timeout.failure.message).toBe('late');
    const unknown = outcomeOf(record('FAILED'));
    expect(unknown.kind === 'failed' && unknown.failure.reason).toBe('PAYMENT_GATEWAY_ERROR');
    expect(unknown.kind === 'failed' && unknown.failure.charged).toBe('false');
  });

  it.each([
    ['RECEIVED', 'false', 'not_charged'],
    ['CHARGING', 'unknown', 'unknown'],
    ['CHARGED', 'true', 'charged'],
    ['REFUNDING', 'true', 'charged'],
  ] as const)('unfinished %s: TOP_UP_PENDING, charged=%s', (state, charged, chargeStatus) => {
    const outcome = outcomeOf(record(state, { lastChargeError: state === 'CHARGING' ? 'timeout' : null }));
    expect(outcome.kind).toBe('failed');
    if (outcome.kind !== 'failed') return;
    expect(outcome.failure.reason).toBe('TOP_UP_PENDING');
    expect(outcome.failure.charged).toBe(charged);
    expect(outcome.failure.metadata.charge_status).toBe(chargeStatus);
  });

  it('a pending top-up whose charge is unconfirmed never claims the card was charged', () => {
    const outcome = outcomeOf(record('CHARGING', { lastChargeError: 'timeout' }));
    if (outcome.kind !== 'failed') throw new Error('expected a failure');
    expect(outcome.failure.charged).toBe('unknown');
    expect(outcome.failure.message).toMatch(/not known whether the card was charged/);
    const received = outcomeOf(record('RECEIVED'));
    if (received.kind !== 'failed') throw new Error('expected a failure');
    expect(received.failure.message).toMatch(/has not been charged/);
  });

  it('refund failed: REFUND_FAILED, charged=true, manual action', () => {
    const outcome = outcomeOf(record('REFUND_FAILED', { chargeId: 'ch', depositError: 'ACCOUNT_NOT_FOUND' }));
    if (outcome.kind !== 'failed') throw new Error('expected a failure');
    expect(outcome.failure).toMatchObject({ reason: 'REFUND_FAILED', charged: 'true', metadata: { manual_action: 'true', deposit_error: 'ACCOUNT_NOT_FOUND' } });
  });
});

describe('idempotency decisions', () => {
  const same = { storedRequestHash: 'a', requestHash: 'a' };

  it('a different request under the same key is refused', () => {
    expect(decideOnExistingTopUp({ storedRequestHash: 'a', requestHash: 'b', state: 'COMPLETED', leaseHeld: false })).toEqual({
      action: 'reject_reused',
    });
  });

  it('a finished top-up is replayed', () => {
    expect(decideOnExistingTopUp({ ...same, state: 'DECLINED', leaseHeld: false }).action).toBe('replay');
  });

  it('an unfinished top-up someone holds is in flight', () => {
    expect(decideOnExistingTopUp({ ...same, state: 'CHARGING', leaseHeld: true }).action).toBe('in_flight');
  });

  it('an unfinished top-up nobody holds is resumed', () => {
    expect(decideOnExistingTopUp({ ...same, state: 'CHARGED', leaseHeld: false }).action).toBe('resume');
  });
});
