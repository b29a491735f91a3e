import { describe, expect, it } from 'vitest';
import {
  cardNumberProblem,
  detectBrand,
  isExpired,
  isExpiryWellFormed,
  isValidCvc,
  last4,
  normalizeCardNumber,
  passesLuhn,
  yearMonthOf,
} from '../../src/domain/card.js';
import { ALL_CARD_NUMBERS, SUCCESS_CARDS } from '../support/test-cards.js';

describe('Luhn check', () => {
  it.each(['4242424242424242', '5555555555554444', '378282246310005', '6011111111111117', '79927398713'])('accepts %s', (n) => {
    expect(passesLuhn(n)).toBe(true);
  });

  it.each(['4242424242424241', '1234567812345678', '79927398710'])('rejects %s', (n) => {
    expect(passesLuhn(n)).toBe(false);
  });

  it('rejects anything that is not only digits', () => {
    expect(passesLuhn('4242-4242-4242-4242')).toBe(false);
    expect(passesLuhn('')).toBe(false);
  });

  it('accepts every documented test card', () => {
    for (const number of ALL_CARD_NUMBERS) expect(cardNumberProblem(number), number).toBeUndefined();
  });
});

describe('card number', () => {
  it('tolerates spaces between digit groups', () => {
    expect(normalizeCardNumber('4242 4242 4242 4242')).toBe('4242424242424242');
    expect(cardNumberProblem(normalizeCardNumber(' 4242 4242 4242 4242 '))).toBeUndefined();
  });

  it('rejects other separators and letters', () => {
    expect(cardNumberProblem(normalizeCardNumber('4242-4242-4242-4242'))).toBe('not_digits');
    expect(cardNumberProblem('42424242424242a2')).toBe('not_digits');
  });

  it('needs 12 to 19 digits', () => {
    expect(cardNumberProblem('42424242426')).toBe('length'); // 11 digits
    expect(cardNumberProblem('424242424241')).toBe('luhn'); // 12 digits: length ok
    expect(cardNumberProblem('4242424242420')).toBe('luhn');
    expect(cardNumberProblem('42424242424242424242')).toBe('length'); // 20 digits
  });

  it('accepts a Luhn-valid 12-digit and 19-digit number', () => {
    expect(cardNumberProblem('000000000000')).toBeUndefined();
    expect(cardNumberProblem('4000000000000000006')).toBeUndefined();
  });

  it('rejects a number failing Luhn', () => {
    expect(cardNumberProblem('4242424242424241')).toBe('luhn');
  });

  it('keeps only the last four digits', () => {
    expect(last4('4242424242424242')).toBe('4242');
    expect(last4('378282246310005')).toBe('0005');
  });
});

describe('brand detection from the IIN', () => {
  it.each([
    ['4242424242424242', 'visa'],
    ['4000000000000002', 'visa'],
    ['5555555555554444', 'mastercard'],
    ['5105105105105100', 'mastercard'],
    ['2223003122003222', 'mastercard'],
    ['2720990000000000', 'mastercard'],
    ['378282246310005', 'amex'],
    ['341111111111111', 'amex'],
    ['6011111111111117', 'discover'],
    ['6500000000000002', 'discover'],
    ['6440000000000000', 'discover'],
    ['6221260000000000', 'discover'],
    ['3530111333300000', 'other'],
    ['2220990000000000', 'other'],
    ['2721000000000000', 'other'],
    ['6221250000000000', 'other'],
    ['5000000000000000', 'other'],
  ])('%s is %s', (number, brand) => {
    expect(detectBrand(number)).toBe(brand);
  });

  it('agrees with the documented test cards', () => {
    for (const [number, brand] of SUCCESS_CARDS) expect(detectBrand(number)).toBe(brand);
    for (const number of ALL_CARD_NUMBERS.filter((n) => n.startsWith('4'))) expect(detectBrand(number)).toBe('visa');
  });
});

describe('expiry (injected clock, UTC)', () => {
  const now = new Date('2026-03-15T12:00:00Z');

  it('a card is valid through the end of its expiry month', () => {
    expect(isExpired({ year: 2026, month: 3 }, now)).toBe(false);
    expect(isExpired({ year: 2026, month: 3 }, new Date('2026-03-31T23:59:59.999Z'))).toBe(false);
  });

  it('a card is expired from the first instant of the following month', () => {
    expect(isExpired({ year: 2026, month: 3 }, new Date('2026-04-01T00:00:00Z'))).toBe(true);
  });

  it('compares years before months', () => {
    expect(isExpired({ year: 2025, month: 12 }, now)).toBe(true);
    expect(isExpired({ year: 2026, month: 2 }, now)).toBe(true);
    expect(isExpired({ year: 2027, month: 1 }, now)).toBe(false);
  });

  it('reads the current month in UTC', () => {
    expect(yearMonthOf(new Date('2026-12-31T23:30:00Z'))).toEqual({ year: 2026, month: 12 });
    expect(yearMonthOf(new Date('2027-01-01T00:00:00Z'))).toEqual({ year: 2027, month: 1 });
  });

  it('rejects months outside 1-12 and years outside 2000-2100', () => {
    expect(isExpiryWellFormed(0, 2030)).toBe(false);
    expect(isExpiryWellFormed(13, 2030)).toBe(false);
    expect(isExpiryWellFormed(12, 1999)).toBe(false);
    expect(isExpiryWellFormed(12, 2101)).toBe(false);
    expect(isExpiryWellFormed(1.5, 2030)).toBe(false);
    expect(isExpiryWellFormed(1, 2030)).toBe(true);
    expect(isExpiryWellFormed(12, 2100)).toBe(true);
  });
});

describe('CVC', () => {
  it.each(['123', '0000', '999'])('accepts %s', (cvc) => expect(isValidCvc(cvc)).toBe(true));
  it.each(['12', '12345', '12a', '', ' 123'])('rejects "%s"', (cvc) => expect(isValidCvc(cvc)).toBe(false));
});
