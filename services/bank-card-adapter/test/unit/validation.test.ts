import { describe, expect, it } from 'vitest';
import { TopUpFailure, isFailureReason } from '../../src/domain/failures.js';
import { isUuid, topUpViolations, validateTopUp, type TopUpInput } from '../../src/domain/validation.js';

const now = new Date('2026-03-15T12:00:00Z');
const limits = { minAmountMinor: 100n, maxAmountMinor: 1_000_000n };

function input(overrides: Partial<TopUpInput> = {}, card: Partial<NonNullable<TopUpInput['card']>> = {}): TopUpInput {
  return {
    accountId: '123e4567-e89b-12d3-a456-426614174000',
    amountMinor: 2_500n,
    currency: 'USD',
    idempotencyKey: 'key-1',
    card: { number: '4242 4242 4242 4242', expiryMonth: 12, expiryYear: 2030, cvc: '123', holderName: 'Ada Lovelace', ...card },
    ...overrides,
  };
}

function failureOf(value: TopUpInput): TopUpFailure {
  try {
    validateTopUp(value, now, limits);
  } catch (error) {
    if (error instanceof TopUpFailure) return error;
    throw error;
  }
  throw new Error('expected a TopUpFailure');
}

describe('top-up validation', () => {
  it('accepts a good request and keeps only what the saga needs', () => {
    const valid = validateTopUp(input(), now, limits);
    expect(valid.card).toMatchObject({ digits: '4242424242424242', last4: '4242', brand: 'visa', cvc: '123' });
    expect(valid.amountMinor).toBe(2_500n);
  });

  it('lower-cases the account id so one account has one idempotency space', () => {
    expect(validateTopUp(input({ accountId: '123E4567-E89B-12D3-A456-426614174000' }), now, limits).accountId).toBe(
      '123e4567-e89b-12d3-a456-426614174000',
    );
  });

  it('rejects a Luhn-invalid number with INVALID_CARD_NUMBER, charged=false', () => {
    const failure = failureOf(input({}, { number: '4242424242424241' }));
    expect(failure.reason).toBe('INVALID_CARD_NUMBER');
    expect(failure.charged).toBe('false');
    expect(failure.fieldViolations).toEqual([{ field: 'card.number', description: 'fails the Luhn check' }]);
  });

  it('rejects a too short number and letters', () => {
    expect(failureOf(input({}, { number: '4242 4242' })).reason).toBe('INVALID_CARD_NUMBER');
    expect(failureOf(input({}, { number: '4242x4242x4242x4242' })).reason).toBe('INVALID_CARD_NUMBER');
  });

  it('rejects a missing card', () => {
    expect(failureOf(input({ card: undefined })).reason).toBe('INVALID_CARD_NUMBER');
  });

  it('rejects an expired card with CARD_EXPIRED', () => {
    expect(failureOf(input({}, { expiryMonth: 2, expiryYear: 2026 })).reason).toBe('CARD_EXPIRED');
  });

  it('accepts a card expiring this month', () => {
    expect(() => validateTopUp(input({}, { expiryMonth: 3, expiryYear: 2026 }), now, limits)).not.toThrow();
  });

  it('rejects a malformed expiry as INVALID_ARGUMENT', () => {
    expect(failureOf(input({}, { expiryMonth: 13 })).reason).toBe('INVALID_ARGUMENT');
    expect(failureOf(input({}, { expiryMonth: 0, expiryYear: 0 })).reason).toBe('INVALID_ARGUMENT');
  });

  it('rejects a bad CVC with INVALID_CVC', () => {
    expect(failureOf(input({}, { cvc: '12' })).reason).toBe('INVALID_CVC');
    expect(failureOf(input({}, { cvc: '12345' })).reason).toBe('INVALID_CVC');
  });

  it('rejects zero, negative, too small and too large amounts with INVALID_AMOUNT', () => {
    expect(failureOf(input({ amountMinor: 0n })).reason).toBe('INVALID_AMOUNT');
    expect(failureOf(input({ amountMinor: -100n })).reason).toBe('INVALID_AMOUNT');
    expect(failureOf(input({ amountMinor: 99n })).reason).toBe('INVALID_AMOUNT');
    expect(failureOf(input({ amountMinor: 1_000_001n })).reason).toBe('INVALID_AMOUNT');
  });

  it('accepts the limits themselves', () => {
    expect(() => validateTopUp(input({ amountMinor: 100n }), now, limits)).not.toThrow();
    expect(() => validateTopUp(input({ amountMinor: 1_000_000n }), now, limits)).not.toThrow();
  });

  it('only tops up in USD', () => {
    expect(failureOf(input({ currency: 'EUR' })).reason).toBe('CURRENCY_MISMATCH');
    expect(failureOf(input({ currency: 'usd' })).reason).toBe('INVALID_ARGUMENT');
    expect(failureOf(input({ currency: '' })).reason).toBe('INVALID_ARGUMENT');
  });

  it('rejects a bad account id, idempotency key and holder name', () => {
    expect(failureOf(input({ accountId: 'not-a-uuid' })).reason).toBe('INVALID_ARGUMENT');
    expect(failureOf(input({ idempotencyKey: '' })).reason).toBe('INVALID_ARGUMENT');
    expect(failureOf(input({ idempotencyKey: 'k'.repeat(256) })).reason).toBe('INVALID_ARGUMENT');
    expect(failureOf(input({}, { holderName: 'x'.repeat(101) })).reason).toBe('INVALID_ARGUMENT');
  });

  it('reports every violation, the first naming the reason', () => {
    const violations = topUpViolations(input({ amountMinor: 0n }, { number: '1234', cvc: 'x' }), now, limits);
    expect(violations.map((v) => v.reason)).toEqual(['INVALID_AMOUNT', 'INVALID_CARD_NUMBER', 'INVALID_CVC']);
  });

  it('never puts the card number or CVC into the failure', () => {
    const failure = failureOf(input({}, { number: '4242424242424241', cvc: '98' }));
    const text = JSON.stringify({ message: failure.message, meta: failure.metadata, fields: failure.fieldViolations });
    expect(text).not.toContain('4242424242424241');
    expect(text).not.toContain('"98"');
  });

  it('knows its UUIDs and reasons', () => {
    expect(isUuid('987e6543-e21b-34d3-c456-426614174999')).toBe(true);
    expect(isUuid('987e6543e21b34d3c456426614174999')).toBe(false);
    expect(isFailureReason('CARD_DECLINED')).toBe(true);
    expect(isFailureReason('NOPE')).toBe(false);
  });
});
