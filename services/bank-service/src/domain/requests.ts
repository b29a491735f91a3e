// Cheap validation of incoming requests, before any database work. Input
// shapes mirror the proto messages (structurally), outputs are normalised
// commands with a request hash for idempotency.
import { isCurrencyCode } from '@wallet/platform';
import {
  AccountNotFoundError,
  InvalidAmountError,
  InvalidArgumentError,
  SameAccountError,
  type FieldViolation,
} from './errors.js';
import { depositRequestHash, transferRequestHash } from './hashing.js';
import { charLength, isSystemAccountId, isUuid, normalizeUuid } from './ids.js';

export const IDEMPOTENCY_KEY_LENGTH_MAX = 255;
export const DESCRIPTION_LENGTH_MAX = 140;
export const DEPOSIT_REFERENCE_LENGTH_MAX = 255;
export const CARD_BRAND_LENGTH_MAX = 32;
/** Owners and initiators are any issuer's `sub` (SUBJECT_LENGTH_MAX of @wallet/platform/auth). */
export const SUBJECT_LENGTH_MAX = 255;

export interface MoneyInput {
  amountMinor: bigint;
  currencyCode: string;
}

export interface TransferMoneyInput {
  senderAccountId: string;
  recipientAccountId: string;
  amount: MoneyInput | undefined;
  idempotencyKey: string;
  description: string;
}

export interface DepositMoneyInput {
  accountId: string;
  amount: MoneyInput | undefined;
  depositReference: string;
  topUpId: string;
  card: { cardLast4: string; cardBrand: string } | undefined;
  /** Subject of the user who asked for the top-up (the card adapter verified it). */
  initiatedBy: string;
}

export interface CreateAccountInput {
  idempotencyKey: string;
  currency: string;
  /** Empty = the caller. */
  ownerId: string;
}

export interface TransferRequest {
  senderAccountId: string;
  recipientAccountId: string;
  amountMinor: bigint;
  currency: string;
  idempotencyKey: string;
  description: string;
  requestHash: string;
  /** Subject of the verified caller; recorded, not part of the request hash. */
  initiatedBy: string;
}

export interface DepositRequest {
  accountId: string;
  amountMinor: bigint;
  currency: string;
  depositReference: string;
  topUpId: string;
  cardLast4: string;
  cardBrand: string;
  requestHash: string;
  /** Recorded, not part of the request hash (a replay by recovery is the same deposit). */
  initiatedBy: string;
}

/** A validated CreateAccount request; the owner is resolved against the caller later (domain/access.ts). */
export interface CreateAccountRequest {
  idempotencyKey: string;
  currency: string;
  /** undefined = the caller. */
  ownerId: string | undefined;
}

/**
 * Amount rules. Amounts arrive in minor units of a two-decimal currency, so
 * "more than two decimals" cannot be expressed; what remains is sign and the
 * configured maximum (checked here, before the database is touched).
 */
export function checkAmount(field: string, amountMinor: bigint, maxAmountMinor: bigint): void {
  if (amountMinor <= 0n) throw new InvalidAmountError(field, 'must be greater than zero');
  if (amountMinor > maxAmountMinor) {
    throw new InvalidAmountError(field, `must not exceed ${maxAmountMinor.toString()} minor units`);
  }
}

function checkUuid(violations: FieldViolation[], field: string, value: string): void {
  if (!isUuid(value)) violations.push({ field, description: 'must be a UUID' });
}

/**
 * Free text must be storable as it is: PostgreSQL text and jsonb refuse NUL
 * (U+0000) and a UTF-16 surrogate without its pair (no UTF-8 form). Anything
 * else a JSON parser accepts is stored faithfully.
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this pattern is for
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableText(value: string): boolean {
  return !UNSTORABLE_TEXT.test(value);
}

function checkLength(violations: FieldViolation[], field: string, value: string, min: number, max: number): void {
  const length = charLength(value);
  if (length < min || length > max) {
    violations.push({ field, description: min > 0 ? `must be ${min}-${max} characters` : `must be at most ${max} characters` });
  } else if (!isStorableText(value)) {
    violations.push({ field, description: 'must not contain NUL characters or unpaired UTF-16 surrogates' });
  }
}

function checkMoneyFields(violations: FieldViolation[], amount: MoneyInput | undefined): void {
  if (!amount) {
    violations.push({ field: 'amount', description: 'is required' });
  } else if (!isCurrencyCode(amount.currencyCode)) {
    violations.push({ field: 'amount.currency_code', description: 'must be an ISO 4217 code such as USD' });
  }
}

export function validateTransferRequest(input: TransferMoneyInput, limits: { maxAmountMinor: bigint }, initiatedBy: string): TransferRequest {
  const violations: FieldViolation[] = [];
  checkUuid(violations, 'sender_account_id', input.senderAccountId);
  checkUuid(violations, 'recipient_account_id', input.recipientAccountId);
  checkMoneyFields(violations, input.amount);
  checkLength(violations, 'idempotency_key', input.idempotencyKey, 1, IDEMPOTENCY_KEY_LENGTH_MAX);
  // Reserved for the transfers hold captures post (domain/holds.ts, ADR 0015).
  if (input.idempotencyKey.startsWith('hold:')) violations.push({ field: 'idempotency_key', description: 'must not start with "hold:"' });
  checkLength(violations, 'description', input.description, 0, DESCRIPTION_LENGTH_MAX);
  if (violations.length > 0 || !input.amount) throw new InvalidArgumentError(violations);

  checkAmount('amount.amount_minor', input.amount.amountMinor, limits.maxAmountMinor);
  const senderAccountId = normalizeUuid(input.senderAccountId);
  const recipientAccountId = normalizeUuid(input.recipientAccountId);
  if (senderAccountId === recipientAccountId) throw new SameAccountError(senderAccountId);
  // System accounts are not transfer parties; refused here, before any lock
  // (the lock statement also skips every non-customer row).
  if (isSystemAccountId(senderAccountId)) throw new AccountNotFoundError(senderAccountId, 'sender');
  if (isSystemAccountId(recipientAccountId)) throw new AccountNotFoundError(recipientAccountId, 'recipient');

  const fields = {
    senderAccountId,
    recipientAccountId,
    amountMinor: input.amount.amountMinor,
    currency: input.amount.currencyCode,
    description: input.description,
  };
  return { ...fields, idempotencyKey: input.idempotencyKey, requestHash: transferRequestHash(fields), initiatedBy };
}

/** The deposit maximum, checked once no earlier deposit with the reference exists. */
export function checkDepositLimit(request: DepositRequest, limits: { maxAmountMinor: bigint }): void {
  checkAmount('amount.amount_minor', request.amountMinor, limits.maxAmountMinor);
}

export function validateDepositRequest(input: DepositMoneyInput): DepositRequest {
  const violations: FieldViolation[] = [];
  checkUuid(violations, 'account_id', input.accountId);
  checkMoneyFields(violations, input.amount);
  checkLength(violations, 'deposit_reference', input.depositReference, 1, DEPOSIT_REFERENCE_LENGTH_MAX);
  checkUuid(violations, 'top_up_id', input.topUpId);
  if (!input.card) {
    violations.push({ field: 'card', description: 'is required' });
  } else {
    if (!/^[0-9]{4}$/.test(input.card.cardLast4)) {
      violations.push({ field: 'card.card_last4', description: 'must be exactly four digits' });
    }
    checkLength(violations, 'card.card_brand', input.card.cardBrand, 0, CARD_BRAND_LENGTH_MAX);
  }
  checkLength(violations, 'initiated_by', input.initiatedBy, 1, SUBJECT_LENGTH_MAX);
  if (violations.length > 0 || !input.amount || !input.card) throw new InvalidArgumentError(violations);

  // Only the sign here: the maximum is checked after the replay lookup
  // (checkDepositLimit), so an applied deposit replays even if the limit changed.
  if (input.amount.amountMinor <= 0n) throw new InvalidAmountError('amount.amount_minor', 'must be greater than zero');
  const fields = {
    accountId: normalizeUuid(input.accountId),
    amountMinor: input.amount.amountMinor,
    currency: input.amount.currencyCode,
    topUpId: normalizeUuid(input.topUpId),
    cardLast4: input.card.cardLast4,
    cardBrand: input.card.cardBrand,
  };
  return { ...fields, depositReference: input.depositReference, requestHash: depositRequestHash(fields), initiatedBy: input.initiatedBy };
}

export function validateAccountId(accountId: string, field = 'account_id'): string {
  const violations: FieldViolation[] = [];
  checkUuid(violations, field, accountId);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return normalizeUuid(accountId);
}

export function validateDepositReference(depositReference: string): string {
  const violations: FieldViolation[] = [];
  checkLength(violations, 'deposit_reference', depositReference, 1, DEPOSIT_REFERENCE_LENGTH_MAX);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return depositReference;
}

/** An owner named in a request: any issuer's subject, 1-255 characters, storable. */
export function validateOwnerId(ownerId: string, field = 'owner_id'): string {
  const violations: FieldViolation[] = [];
  checkLength(violations, field, ownerId, 1, SUBJECT_LENGTH_MAX);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return ownerId;
}

export function validateCreateAccountRequest(input: CreateAccountInput): CreateAccountRequest {
  const violations: FieldViolation[] = [];
  checkLength(violations, 'idempotency_key', input.idempotencyKey, 1, IDEMPOTENCY_KEY_LENGTH_MAX);
  // ISO 4217 alphabetic: three upper-case letters.
  if (!isCurrencyCode(input.currency)) violations.push({ field: 'currency', description: 'must be an ISO 4217 code such as USD' });
  if (input.ownerId !== '') checkLength(violations, 'owner_id', input.ownerId, 1, SUBJECT_LENGTH_MAX);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return { idempotencyKey: input.idempotencyKey, currency: input.currency, ownerId: input.ownerId === '' ? undefined : input.ownerId };
}
