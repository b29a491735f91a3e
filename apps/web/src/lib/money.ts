// Money in the browser is what it is in the API: a decimal string at the
// edges, integer minor units (bigint) inside. Never a float.

/** The API's Money pattern (openapi.yaml components/schemas/Money). */
const MONEY = /^(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$/;
/** What a person may type: digits, optionally one dot or comma and 1-2 decimals, spaces around. */
const TYPED = /^\s*([0-9]{1,15})(?:[.,]([0-9]{1,2}))?\s*$/;

/** Minor units of an API amount ("10.50" -> 1050n); undefined when it is not one. */
export function parseAmountMinor(amount: string): bigint | undefined {
  if (!MONEY.test(amount)) return undefined;
  const [whole = '0', fraction = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

/** The API's form of an amount in minor units (1050n -> "10.50"). */
export function formatMinor(minor: bigint): string {
  const sign = minor < 0n ? '-' : '';
  const abs = minor < 0n ? -minor : minor;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** "1234567.5" -> "1,234,567.50" (grouping by string, so no precision is ever lost). */
export function displayAmount(amount: string): string {
  // Signed figures (a pending net, an overdrawn balance) keep their sign in front.
  if (amount.startsWith('-')) return `−${displayAmount(amount.slice(1))}`;
  const minor = parseAmountMinor(amount);
  if (minor === undefined) return amount;
  const [whole = '0', fraction = '00'] = formatMinor(minor).split('.');
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${fraction}`;
}

export interface AmountRange {
  minMinor: bigint;
  maxMinor: bigint;
}
/** The API's limits (TransferAmount, TopUpAmount). */
export const TRANSFER_RANGE: AmountRange = { minMinor: 1n, maxMinor: 100_000_000n };
export const TOP_UP_RANGE: AmountRange = { minMinor: 100n, maxMinor: 1_000_000n };

export type AmountCheck = { ok: true; amount: string; minor: bigint } | { ok: false; message: string };

/**
 * Checks what was typed in an amount field and turns it into the API's form
 * ("10" -> "10.00", "10,5" -> "10.50"), or says plainly what is wrong.
 */
export function checkAmountInput(text: string, range: AmountRange): AmountCheck {
  if (text.trim() === '') return { ok: false, message: 'Enter an amount.' };
  const match = TYPED.exec(text);
  if (!match) return { ok: false, message: 'Enter an amount like 10.50: digits, at most two decimals.' };
  const minor = BigInt(match[1] ?? '0') * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
  if (minor < range.minMinor || minor > range.maxMinor) {
    return { ok: false, message: `Enter an amount from ${displayAmount(formatMinor(range.minMinor))} to ${displayAmount(formatMinor(range.maxMinor))}.` };
  }
  return { ok: true, amount: formatMinor(minor), minor };
}
