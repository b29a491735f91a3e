// Card rules: pure functions, no I/O. The full number lives only in memory
// for the duration of one request; everything that leaves this module for
// storage or logs is last4 + brand.

export const CARD_NUMBER_MIN_DIGITS = 12;
export const CARD_NUMBER_MAX_DIGITS = 19;

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'other';

/** Strips the spaces people type between digit groups; anything else is kept (and then rejected). */
export function normalizeCardNumber(input: string): string {
  return input.replace(/ /g, '');
}

/** The Luhn (mod 10) checksum over a string of digits. */
export function passesLuhn(digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i -= 1) {
    let digit = digits.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

export type CardNumberProblem = 'not_digits' | 'length' | 'luhn';

/** Why a (normalized) card number is unacceptable, or undefined when it is fine. */
export function cardNumberProblem(digits: string): CardNumberProblem | undefined {
  if (!/^[0-9]+$/.test(digits)) return 'not_digits';
  if (digits.length < CARD_NUMBER_MIN_DIGITS || digits.length > CARD_NUMBER_MAX_DIGITS) return 'length';
  if (!passesLuhn(digits)) return 'luhn';
  return undefined;
}

/** Brand from the issuer identification number (the leading digits). */
export function detectBrand(digits: string): CardBrand {
  const prefix2 = Number(digits.slice(0, 2));
  const prefix3 = Number(digits.slice(0, 3));
  const prefix4 = Number(digits.slice(0, 4));
  const prefix6 = Number(digits.slice(0, 6));
  if (digits.startsWith('4')) return 'visa';
  if (prefix2 === 34 || prefix2 === 37) return 'amex';
  if ((prefix2 >= 51 && prefix2 <= 55) || (prefix4 >= 2221 && prefix4 <= 2720)) return 'mastercard';
  if (
    digits.startsWith('6011') ||
    digits.startsWith('65') ||
    (prefix3 >= 644 && prefix3 <= 649) ||
    (prefix6 >= 622126 && prefix6 <= 622925)
  ) {
    return 'discover';
  }
  return 'other';
}

export function last4(digits: string): string {
  return digits.slice(-4);
}

export interface YearMonth {
  year: number;
  /** 1-12 */
  month: number;
}

/** The calendar month of an instant, in UTC (the clock is injected by the caller). */
export function yearMonthOf(now: Date): YearMonth {
  return { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 };
}

export const EXPIRY_YEAR_MIN = 2000;
export const EXPIRY_YEAR_MAX = 2100;

export function isExpiryWellFormed(month: number, year: number): boolean {
  return (
    Number.isInteger(month) &&
    Number.isInteger(year) &&
    month >= 1 &&
    month <= 12 &&
    year >= EXPIRY_YEAR_MIN &&
    year <= EXPIRY_YEAR_MAX
  );
}

/**
 * A card is valid through the last day of its expiry month, so it is expired
 * only once the current month is after the expiry month.
 */
export function isExpired(expiry: YearMonth, now: Date): boolean {
  const current = yearMonthOf(now);
  if (expiry.year !== current.year) return expiry.year < current.year;
  return expiry.month < current.month;
}

export function isValidCvc(cvc: string): boolean {
  return /^[0-9]{3,4}$/.test(cvc);
}
