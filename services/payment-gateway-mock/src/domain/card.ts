// The few card rules the provider needs: brand and last four digits. The full
// number is used for the test-card lookup and never leaves memory.

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'other';

/** Brand from the issuer identification number (the leading digits). */
export function detectBrand(digits: string): CardBrand {
  const prefix2 = Number(digits.slice(0, 2));
  const prefix3 = Number(digits.slice(0, 3));
  const prefix4 = Number(digits.slice(0, 4));
  const prefix6 = Number(digits.slice(0, 6));
  if (digits.startsWith('4')) return 'visa';
  if (prefix2 === 34 || prefix2 === 37) return 'amex';
  if ((prefix2 >= 51 && prefix2 <= 55) || (prefix4 >= 2221 && prefix4 <= 2720)) return 'mastercard';
  if (digits.startsWith('6011') || digits.startsWith('65') || (prefix3 >= 644 && prefix3 <= 649) || (prefix6 >= 622126 && prefix6 <= 622925)) {
    return 'discover';
  }
  return 'other';
}

export function last4(digits: string): string {
  return digits.slice(-4);
}
