// Exact money: decimal strings at the edges, bigint minor units inside.
// No floating point ever touches an amount.

/** Minor units per major unit for the currencies we support (ISO 4217 exponent 2). */
export const MINOR_UNITS_PER_MAJOR = 100n;

const AMOUNT_PATTERN = /^(0|[1-9][0-9]{0,14})(?:\.([0-9]{1,2}))?$/;

export class AmountFormatError extends Error {
  constructor(readonly input: string) {
    super(`"${input}" is not a decimal amount with at most two decimals`);
    this.name = 'AmountFormatError';
  }
}

/** Parses "10", "10.5" or "10.50" into minor units (1050n). Rejects signs, exponents, >2 decimals. */
export function parseAmountMinor(input: string): bigint {
  const match = AMOUNT_PATTERN.exec(input);
  if (!match) throw new AmountFormatError(input);
  const major = BigInt(match[1] ?? '0');
  const fraction = (match[2] ?? '').padEnd(2, '0');
  return major * MINOR_UNITS_PER_MAJOR + BigInt(fraction);
}

/** Formats minor units as a decimal string with exactly two decimals (1050n -> "10.50"). */
export function formatAmountMinor(amountMinor: bigint): string {
  const negative = amountMinor < 0n;
  const abs = negative ? -amountMinor : amountMinor;
  const major = abs / MINOR_UNITS_PER_MAJOR;
  const minor = abs % MINOR_UNITS_PER_MAJOR;
  return `${negative ? '-' : ''}${major.toString()}.${minor.toString().padStart(2, '0')}`;
}

const CURRENCY_PATTERN = /^[A-Z]{3}$/;

export function isCurrencyCode(value: string): boolean {
  return CURRENCY_PATTERN.test(value);
}
