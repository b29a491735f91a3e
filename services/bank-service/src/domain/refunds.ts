// Refunds of card top-ups (ADR 0018), as pure decisions: validation, the
// request hash, what a RefundDeposit or CancelRefund does to the locked
// account states, and the refund events. The database layer locks, hands the
// states here and writes the plan that comes back.
import { createHash } from 'node:crypto';
import type { RefundEvent } from '@wallet/contracts';
import { formatAmountMinor, isCurrencyCode } from '@wallet/platform';
import {
  CurrencyMismatchError,
  DepositNotFoundError,
  InsufficientFundsError,
  InvalidAmountError,
  InvalidArgumentError,
  RefundExceedsDepositError,
  type BankError,
  type FieldViolation,
} from './errors.js';
import { advisoryLockKey } from './hashing.js';
import { charLength, isUuid, normalizeUuid } from './ids.js';
import { InvariantViolation, type OutboxEvent, type Posting } from './ledger.js';
import { isStorableText, SUBJECT_LENGTH_MAX, type MoneyInput } from './requests.js';

export const REFUND_REFERENCE_LENGTH_MAX = 255;

export type RefundStatus = 'debited' | 'cancelled';

export interface RefundRecord {
  id: string;
  depositId: string;
  topUpId: string;
  accountId: string;
  amountMinor: bigint;
  currency: string;
  refundReference: string;
  status: RefundStatus;
  requestHash: string;
  initiatedBy: string | null;
  createdAt: Date;
  cancelledAt: Date | null;
}

export interface RefundDepositInput {
  topUpId: string;
  amount: MoneyInput | undefined;
  refundReference: string;
  initiatedBy: string;
}

export interface RefundRequest {
  topUpId: string;
  amountMinor: bigint;
  currency: string;
  refundReference: string;
  requestHash: string;
  /** Recorded, not hashed: recovery replays the same refund. */
  initiatedBy: string;
}

/** An account row as a refund needs it (locked FOR UPDATE). */
export interface RefundAccountState {
  id: string;
  kind: 'customer' | 'settlement';
  currency: string;
  balanceMinor: bigint;
  pendingOutMinor: bigint;
  overdraftLimitMinor: bigint;
  version: bigint;
}

export interface DepositFacts {
  id: string;
  accountId: string;
  amountMinor: bigint;
  currency: string;
  /** Σ of the deposit's refunds that are not cancelled, read under the account lock. */
  refundedMinor: bigint;
}

/** The business failures of RefundDeposit decided under the locks: bound to the reference. */
export const REFUND_BOUND_FAILURES = ['ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH', 'INSUFFICIENT_FUNDS', 'DEPOSIT_NOT_FOUND', 'REFUND_EXCEEDS_DEPOSIT'] as const;
export type RefundBoundFailure = (typeof REFUND_BOUND_FAILURES)[number];

export function isRefundBoundFailure(error: BankError): error is BankError & { reason: RefundBoundFailure } {
  return (REFUND_BOUND_FAILURES as readonly string[]).includes(error.reason);
}

function checkReference(violations: FieldViolation[], value: string): void {
  const length = charLength(value);
  if (length < 1 || length > REFUND_REFERENCE_LENGTH_MAX) violations.push({ field: 'refund_reference', description: `must be 1-${REFUND_REFERENCE_LENGTH_MAX} characters` });
  else if (!isStorableText(value)) violations.push({ field: 'refund_reference', description: 'must not contain NUL characters or unpaired UTF-16 surrogates' });
}

export function validateRefundReference(value: string): string {
  const violations: FieldViolation[] = [];
  checkReference(violations, value);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return value;
}

export function refundRequestHash(input: { topUpId: string; amountMinor: bigint; currency: string }): string {
  return createHash('sha256').update(JSON.stringify(['refund.v1', input.topUpId, input.amountMinor.toString(), input.currency])).digest('hex');
}

/**
 * The bank's id of a new refund: its reference when that is a UUID (the card
 * adapter's refund id, so REST, the events and the history name a refund by
 * one id), else a fresh one. Refunds recorded before this rule keep the id
 * they got (ledger entries hash it; ADR 0018).
 */
export function refundIdOf(refundReference: string, newId: () => string): string {
  return isUuid(refundReference) ? normalizeUuid(refundReference) : newId();
}

export function refundLockKey(refundReference: string): bigint {
  return advisoryLockKey('bank.refund', refundReference);
}

export function validateRefundDepositRequest(input: RefundDepositInput, limits: { maxAmountMinor: bigint }): RefundRequest {
  const violations: FieldViolation[] = [];
  if (!isUuid(input.topUpId)) violations.push({ field: 'top_up_id', description: 'must be a UUID' });
  if (!input.amount) violations.push({ field: 'amount', description: 'is required' });
  else if (!isCurrencyCode(input.amount.currencyCode)) violations.push({ field: 'amount.currency_code', description: 'must be an ISO 4217 code such as USD' });
  checkReference(violations, input.refundReference);
  const initiatorLength = charLength(input.initiatedBy);
  if (initiatorLength < 1 || initiatorLength > SUBJECT_LENGTH_MAX || !isStorableText(input.initiatedBy)) {
    violations.push({ field: 'initiated_by', description: `must be 1-${SUBJECT_LENGTH_MAX} storable characters` });
  }
  if (violations.length > 0 || !input.amount) throw new InvalidArgumentError(violations);
  const amountMinor = input.amount.amountMinor;
  if (amountMinor <= 0n) throw new InvalidAmountError('amount.amount_minor', 'must be greater than zero');
  if (amountMinor > limits.maxAmountMinor) throw new InvalidAmountError('amount.amount_minor', `must not exceed ${limits.maxAmountMinor.toString()} minor units`);
  const fields = { topUpId: normalizeUuid(input.topUpId), amountMinor, currency: input.amount.currencyCode };
  return { ...fields, refundReference: input.refundReference, requestHash: refundRequestHash(fields), initiatedBy: input.initiatedBy };
}

export interface RefundPlan {
  refund: RefundRecord;
  /** [the customer's entry, the settlement account's entry] */
  postings: [Posting, Posting];
  event: OutboxEvent;
}

export interface RefundIdentity {
  refundId: string;
  eventId: string;
  createdAt: Date;
}

/**
 * Decides a RefundDeposit over the locked account and settlement rows. Order:
 * the deposit exists, the currency is the deposit's, the amount fits what
 * remains unrefunded, the wallet's available balance plus overdraft covers it.
 */
export function decideRefund(
  request: RefundRequest,
  deposit: DepositFacts | undefined,
  accounts: ReadonlyMap<string, RefundAccountState>,
  settlementAccountId: string,
  identity: RefundIdentity,
): { ok: true; plan: RefundPlan } | { ok: false; error: BankError } {
  if (!deposit) return { ok: false, error: new DepositNotFoundError(request.topUpId) };
  const account = accounts.get(deposit.accountId);
  const settlement = accounts.get(settlementAccountId);
  if (!account || !settlement || settlement.kind !== 'settlement') throw new InvariantViolation('refund accounts are not locked');
  if (deposit.currency !== request.currency) return { ok: false, error: new CurrencyMismatchError(account.id, deposit.currency, request.currency) };
  const remainingMinor = deposit.amountMinor - deposit.refundedMinor;
  if (request.amountMinor > remainingMinor) {
    return { ok: false, error: new RefundExceedsDepositError(request.topUpId, formatAmountMinor(remainingMinor > 0n ? remainingMinor : 0n)) };
  }
  const availableAfterMinor = account.balanceMinor - account.pendingOutMinor - request.amountMinor;
  if (availableAfterMinor < -account.overdraftLimitMinor) return { ok: false, error: new InsufficientFundsError(account.id) };
  const refund: RefundRecord = {
    id: identity.refundId,
    depositId: deposit.id,
    topUpId: request.topUpId,
    accountId: account.id,
    amountMinor: request.amountMinor,
    currency: request.currency,
    refundReference: request.refundReference,
    status: 'debited',
    requestHash: request.requestHash,
    initiatedBy: request.initiatedBy,
    createdAt: identity.createdAt,
    cancelledAt: null,
  };
  const postings = refundPostings(account, settlement, -request.amountMinor);
  return { ok: true, plan: { refund, postings, event: refundEvent(refund, 'refund', identity.eventId, identity.createdAt) } };
}

/** Cancels a debited refund: the same amount back to the wallet, from the settlement account. */
export function decideCancel(
  refund: RefundRecord,
  accounts: ReadonlyMap<string, RefundAccountState>,
  settlementAccountId: string,
  identity: { eventId: string; cancelledAt: Date },
): RefundPlan {
  if (refund.status !== 'debited') throw new InvariantViolation(`cancel of a ${refund.status} refund`);
  const account = accounts.get(refund.accountId);
  const settlement = accounts.get(settlementAccountId);
  if (!account || !settlement) throw new InvariantViolation('refund accounts are not locked');
  const cancelled: RefundRecord = { ...refund, status: 'cancelled', cancelledAt: identity.cancelledAt };
  return {
    refund: cancelled,
    postings: refundPostings(account, settlement, refund.amountMinor),
    event: refundEvent(cancelled, 'refund_cancelled', identity.eventId, identity.cancelledAt),
  };
}

/** The customer's entry (signed amount) and the settlement's opposite one; they sum to zero. */
function refundPostings(account: RefundAccountState, settlement: RefundAccountState, customerAmountMinor: bigint): [Posting, Posting] {
  const postings: [Posting, Posting] = [
    { accountId: account.id, amountMinor: customerAmountMinor, balanceAfterMinor: account.balanceMinor + customerAmountMinor },
    { accountId: settlement.id, amountMinor: -customerAmountMinor, balanceAfterMinor: settlement.balanceMinor - customerAmountMinor },
  ];
  if (postings[0].amountMinor + postings[1].amountMinor !== 0n) throw new InvariantViolation('refund postings do not balance');
  return postings;
}

/** refund / refund_cancelled (key = the wallet account), per refund_event.json. */
export function refundEvent(refund: RefundRecord, eventType: RefundEvent['eventType'], eventId: string, occurredAt: Date): OutboxEvent {
  const payload: RefundEvent = {
    eventId,
    eventType,
    schemaVersion: 1,
    occurredAt: occurredAt.toISOString(),
    accountId: refund.accountId,
    refundId: refund.id,
    topUpId: refund.topUpId,
    depositId: refund.depositId,
    amount: formatAmountMinor(refund.amountMinor),
    currency: refund.currency,
    ...(refund.initiatedBy !== null ? { initiatedBy: refund.initiatedBy } : {}),
  };
  return { accountId: refund.accountId, eventType, payload };
}
