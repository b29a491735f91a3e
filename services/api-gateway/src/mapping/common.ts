import { formatAmountMinor, parseAmountMinor } from '@wallet/platform';
import { EDGE_PROBLEMS, ProblemError } from './problems.js';

// Shared REST <-> gRPC conversions. Pure.

/** The Money message; identical in the bank, card adapter and analytics protos. */
export interface MoneyMessage {
  amountMinor: bigint;
  currencyCode: string;
}

/** A downstream answer that breaks its own contract (a required field missing): a bug, answered as 500. */
export class UnexpectedUpstreamResponseError extends Error {
  override name = 'UnexpectedUpstreamResponseError';
}

/** A 400 about one field, raised by the mapping for rules a JSON Schema cannot say (amount > 0, from < to). */
export function fieldProblem(field: string, message: string): ProblemError {
  return new ProblemError(EDGE_PROBLEMS.validation, `${field} ${message}`, { errors: [{ field, message }] });
}

/**
 * REST amount ("10.50") -> Money in minor units. The OpenAPI pattern already
 * allows only decimal strings with at most two decimals; zero is refused here
 * because a schema pattern cannot say "positive" readably.
 */
export function toMoney(amount: string, currencyCode: string, field = 'body.amount'): MoneyMessage {
  let amountMinor: bigint;
  try {
    amountMinor = parseAmountMinor(amount);
  } catch {
    throw fieldProblem(field, 'must be a decimal string with at most two decimals, e.g. "10.50"');
  }
  if (amountMinor <= 0n) throw fieldProblem(field, 'must be greater than 0');
  return { amountMinor, currencyCode };
}

/**
 * Money -> {amount: "10.50", currency: "USD"}. Every amount the API shows is
 * non-negative (customer balances never go below zero; operations carry their
 * direction in `type`), so a negative one is an upstream bug, not a value.
 */
export function fromMoney(money: MoneyMessage | undefined, what: string): { amount: string; currency: string } {
  if (!money) throw new UnexpectedUpstreamResponseError(`${what}: money missing`);
  if (money.amountMinor < 0n) throw new UnexpectedUpstreamResponseError(`${what}: negative amount`);
  return { amount: formatAmountMinor(money.amountMinor), currency: money.currencyCode };
}

/**
 * Money that may be below zero -> "-12.50": a balance under an overdraft
 * (available, posted, balance) or the signed net of pending holds. Only these
 * fields use it; every other amount stays non-negative (fromMoney).
 */
export function fromSignedMoney(money: MoneyMessage | undefined, what: string): { amount: string; currency: string } {
  if (!money) throw new UnexpectedUpstreamResponseError(`${what}: money missing`);
  return { amount: formatAmountMinor(money.amountMinor), currency: money.currencyCode };
}

export function toIsoTimestamp(date: Date | undefined, what: string): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new UnexpectedUpstreamResponseError(`${what}: timestamp missing`);
  }
  return date.toISOString();
}

/** UUIDs are case-insensitive; the canonical form is lower case (what PostgreSQL returns). */
export function canonicalUuid(id: string): string {
  return id.toLowerCase();
}
