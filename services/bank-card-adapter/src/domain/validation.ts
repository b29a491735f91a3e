// Checks done before any charge: a request that fails here changes nothing
// (no journal row, no gateway call). Pure: the clock and limits are inputs.

import { formatAmountMinor } from '@wallet/platform';
import {
  cardNumberProblem,
  detectBrand,
  isExpired,
  isExpiryWellFormed,
  isValidCvc,
  last4,
  normalizeCardNumber,
  EXPIRY_YEAR_MAX,
  EXPIRY_YEAR_MIN,
  type CardBrand,
} from './card.js';
import { TopUpFailure, type FailureReason, type FieldViolation } from './failures.js';

export const SUPPORTED_CURRENCY = 'USD';
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const HOLDER_NAME_MAX_LENGTH = 100;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TopUpLimits {
  minAmountMinor: bigint;
  maxAmountMinor: bigint;
}

export interface CardInput {
  number: string;
  expiryMonth: number;
  expiryYear: number;
  cvc: string;
  holderName: string;
}

export interface TopUpInput {
  accountId: string;
  amountMinor: bigint;
  currency: string;
  card: CardInput | undefined;
  idempotencyKey: string;
}

/** The card as the saga needs it. `digits` and `cvc` are for the gateway only, never stored. */
export interface ValidCard {
  digits: string;
  expiryMonth: number;
  expiryYear: number;
  cvc: string;
  holderName: string;
  last4: string;
  brand: CardBrand;
}

export interface ValidTopUp {
  accountId: string;
  amountMinor: bigint;
  currency: string;
  card: ValidCard;
  idempotencyKey: string;
}

interface Violation extends FieldViolation {
  reason: FailureReason;
}

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Every violation, in a fixed order; the first one names the failure's reason. */
export function topUpViolations(input: TopUpInput, now: Date, limits: TopUpLimits): Violation[] {
  const violations: Violation[] = [];
  const add = (reason: FailureReason, field: string, description: string) =>
    violations.push({ reason, field, description });

  if (!isUuid(input.accountId)) add('INVALID_ARGUMENT', 'account_id', 'must be a UUID');
  if (input.idempotencyKey.length < 1 || input.idempotencyKey.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    add('INVALID_ARGUMENT', 'idempotency_key', `must be 1-${IDEMPOTENCY_KEY_MAX_LENGTH} characters`);
  }

  if (input.amountMinor <= 0n) {
    add('INVALID_AMOUNT', 'amount.amount_minor', 'must be positive');
  } else if (input.amountMinor < limits.minAmountMinor) {
    add('INVALID_AMOUNT', 'amount.amount_minor', `must be at least ${formatAmountMinor(limits.minAmountMinor)}`);
  } else if (input.amountMinor > limits.maxAmountMinor) {
    add('INVALID_AMOUNT', 'amount.amount_minor', `must be at most ${formatAmountMinor(limits.maxAmountMinor)}`);
  }

  if (!/^[A-Z]{3}$/.test(input.currency)) {
    add('INVALID_ARGUMENT', 'amount.currency_code', 'must be an ISO 4217 code such as USD');
  } else if (input.currency !== SUPPORTED_CURRENCY) {
    add('CURRENCY_MISMATCH', 'amount.currency_code', `only ${SUPPORTED_CURRENCY} accounts exist`);
  }
  const card = input.card;
  if (!card) {
    add('INVALID_CARD_NUMBER', 'card', 'is required');
    return violations;
  }
  const problem = cardNumberProblem(normalizeCardNumber(card.number));
  if (problem === 'not_digits') add('INVALID_CARD_NUMBER', 'card.number', 'must contain only digits and spaces');
  if (problem === 'length') add('INVALID_CARD_NUMBER', 'card.number', 'must have 12-19 digits');
  if (problem === 'luhn') add('INVALID_CARD_NUMBER', 'card.number', 'fails the Luhn check');

  if (!isExpiryWellFormed(card.expiryMonth, card.expiryYear)) {
    add('INVALID_ARGUMENT', 'card.expiry', `month must be 1-12 and year ${EXPIRY_YEAR_MIN}-${EXPIRY_YEAR_MAX}`);
  } else if (isExpired({ year: card.expiryYear, month: card.expiryMonth }, now)) {
    add('CARD_EXPIRED', 'card.expiry', 'the card expired');
  }
  if (!isValidCvc(card.cvc)) add('INVALID_CVC', 'card.cvc', 'must be 3 or 4 digits');
  if (card.holderName.length > HOLDER_NAME_MAX_LENGTH) {
    add('INVALID_ARGUMENT', 'card.holder_name', `must be at most ${HOLDER_NAME_MAX_LENGTH} characters`);
  }
  return violations;
}

/** Validates a top-up request, or throws a TopUpFailure (charged=false: nothing happened). */
export function validateTopUp(input: TopUpInput, now: Date, limits: TopUpLimits): ValidTopUp {
  const violations = topUpViolations(input, now, limits);
  const first = violations[0];
  if (first) {
    throw new TopUpFailure({
      reason: first.reason,
      message: `${first.field} ${first.description}`,
      charged: 'false',
      fieldViolations: violations.map(({ field, description }) => ({ field, description })),
    });
  }
  const card = input.card as CardInput;
  const digits = normalizeCardNumber(card.number);
  return {
    accountId: input.accountId.toLowerCase(),
    amountMinor: input.amountMinor,
    currency: input.currency,
    idempotencyKey: input.idempotencyKey,
    card: {
      digits,
      expiryMonth: card.expiryMonth,
      expiryYear: card.expiryYear,
      cvc: card.cvc,
      holderName: card.holderName,
      last4: last4(digits),
      brand: detectBrand(digits),
    },
  };
}
