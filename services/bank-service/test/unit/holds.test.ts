// Pure hold decisions (domain/holds.ts): who wins, what moves, what is given back.
import { describe, expect, it } from 'vitest';
import {
  captureAmount,
  decideCapture,
  decideCreateHold,
  decideRelease,
  finalAction,
  holdAccountUpdates,
  validateCreateHold,
  type HoldAccountState,
  type HoldRecord,
} from '../../src/domain/holds.js';
import { CaptureExceedsHoldError, HoldNotPendingError, InvalidArgumentError, LimitExceededError, SameAccountError } from '../../src/domain/errors.js';

const PAYER = '00000000-0000-4000-8000-00000000000a';
const PAYEE = '00000000-0000-4000-8000-00000000000b';
const T0 = new Date('2026-12-02T10:00:00Z');

function state(id: string, extra: Partial<HoldAccountState> = {}): HoldAccountState {
  return {
    id,
    kind: 'customer',
    currency: 'USD',
    balanceMinor: 1_000n,
    pendingOutMinor: 0n,
    pendingInMinor: 0n,
    overdraftLimitMinor: 0n,
    dailyLimitMinor: null,
    monthlyLimitMinor: null,
    timeZone: 'UTC',
    spentDay: null,
    spentDayMinor: 0n,
    spentMonth: null,
    spentMonthMinor: 0n,
    version: 1n,
    ...extra,
  };
}

const accounts = (payer: Partial<HoldAccountState> = {}) => new Map([[PAYER, state(PAYER, payer)], [PAYEE, state(PAYEE, { balanceMinor: 0n })]]);

function created(amountMinor = 400n, payer: Partial<HoldAccountState> = {}) {
  const map = accounts(payer);
  const request = validateCreateHold(
    { senderAccountId: PAYER, recipientAccountId: PAYEE, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: 'k', description: '', expiresAt: undefined },
    { maxAmountMinor: 1_000_000n },
    'user-1',
  );
  const decision = decideCreateHold(request, { holdId: 'h1', createdAt: T0, expiresAt: new Date(T0.getTime() + 60_000), eventIds: ['e1', 'e2'] }, map);
  return { map, decision };
}

function pendingHold(): { hold: HoldRecord; map: Map<string, HoldAccountState> } {
  const { map, decision } = created(400n, { dailyLimitMinor: 10_000n });
  if (!decision.ok) throw decision.error;
  return { hold: decision.plan.hold, map };
}

describe('decideCreateHold', () => {
  it('moves the amount into the sender pending_out and the recipient pending_in, counting it as spent', () => {
    const { map, decision } = created(400n);
    expect(decision.ok).toBe(true);
    expect(map.get(PAYER)).toMatchObject({ balanceMinor: 1_000n, pendingOutMinor: 400n, spentDayMinor: 400n, spentDay: '2026-12-02' });
    expect(map.get(PAYEE)).toMatchObject({ balanceMinor: 0n, pendingInMinor: 400n });
  });

  it('refuses beyond a daily limit and leaves the states alone', () => {
    const { map, decision } = created(400n, { dailyLimitMinor: 300n });
    expect(decision.ok).toBe(false);
    expect(!decision.ok && decision.error).toBeInstanceOf(LimitExceededError);
    expect(map.get(PAYER)!.pendingOutMinor).toBe(0n);
  });

  it('refuses the same account on both sides before anything else', () => {
    expect(() =>
      validateCreateHold(
        { senderAccountId: PAYER, recipientAccountId: PAYER, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: 'k', description: '', expiresAt: undefined },
        { maxAmountMinor: 10n },
        'u',
      ),
    ).toThrow(SameAccountError);
    expect(() =>
      validateCreateHold(
        { senderAccountId: PAYER, recipientAccountId: PAYEE, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: 'k', description: '', expiresAt: new Date(Number.NaN) },
        { maxAmountMinor: 10n },
        'u',
      ),
    ).toThrow(InvalidArgumentError);
  });
});

describe('finalAction', () => {
  const base = pendingHold().hold;
  it('proceeds while pending and not due; expires first when due', () => {
    expect(finalAction(base, 'capture', 400n, T0)).toEqual({ kind: 'proceed' });
    expect(finalAction(base, 'void', undefined, base.expiresAt)).toEqual({ kind: 'expire' });
  });

  it('replays the same action that won; anything else is HOLD_NOT_PENDING with the status', () => {
    const captured: HoldRecord = { ...base, status: 'captured', capturedMinor: 150n, transferId: 't', finalizedAt: T0 };
    expect(finalAction(captured, 'capture', 150n, T0)).toEqual({ kind: 'replay' });
    const other = finalAction(captured, 'capture', 400n, T0);
    expect(other.kind === 'refuse' && other.error).toBeInstanceOf(HoldNotPendingError);
    const voided: HoldRecord = { ...base, status: 'voided', finalizedAt: T0 };
    expect(finalAction(voided, 'void', undefined, T0)).toEqual({ kind: 'replay' });
    const late = finalAction({ ...base, status: 'expired', finalizedAt: T0 }, 'void', undefined, T0);
    expect(late.kind === 'refuse' && late.error.metadata.status).toBe('expired');
  });

  it('caps a capture at the held amount in the hold currency', () => {
    expect(captureAmount(base, undefined)).toBe(400n);
    expect(() => captureAmount(base, { amountMinor: 401n, currencyCode: 'USD' })).toThrow(CaptureExceedsHoldError);
    expect(() => captureAmount(base, { amountMinor: 1n, currencyCode: 'EUR' })).toThrow(CaptureExceedsHoldError);
  });
});

describe('capture and release', () => {
  it('a partial capture posts the captured amount, clears the pending parts and gives the rest back to the spending window', () => {
    const { hold, map } = pendingHold();
    const before = new Map(map);
    const plan = decideCapture(hold, 150n, { transferId: 't1', at: new Date(T0.getTime() + 1_000), eventIds: ['a', 'b', 'c', 'd'] }, map, 'user-1');
    expect(plan.postings).toEqual([
      { accountId: PAYER, amountMinor: -150n, balanceAfterMinor: 850n },
      { accountId: PAYEE, amountMinor: 150n, balanceAfterMinor: 150n },
    ]);
    expect(map.get(PAYER)).toMatchObject({ balanceMinor: 850n, pendingOutMinor: 0n, spentDayMinor: 150n });
    expect(map.get(PAYEE)).toMatchObject({ balanceMinor: 150n, pendingInMinor: 0n });
    expect(plan.events.map((e) => e.eventType)).toEqual(['hold_captured', 'hold_captured', 'transfer_out', 'transfer_in']);
    expect(holdAccountUpdates(before, map).map((u) => u.expectedVersion)).toEqual([1n, 1n]);
  });

  it('a void releases everything and emits hold_voided for both sides', () => {
    const { hold, map } = pendingHold();
    const plan = decideRelease(hold, 'voided', new Date(T0.getTime() + 1_000), ['a', 'b'], map, 'user-1');
    expect(plan.hold.status).toBe('voided');
    expect(map.get(PAYER)).toMatchObject({ balanceMinor: 1_000n, pendingOutMinor: 0n, spentDayMinor: 0n });
    expect(plan.events.map((e) => `${e.eventType}/${(e.payload as { direction: string }).direction}`)).toEqual(['hold_voided/out', 'hold_voided/in']);
  });
});
