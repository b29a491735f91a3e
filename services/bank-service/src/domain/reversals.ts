// Reversals (ADR 0017) as pure decisions: part or all of a completed transfer
// moved back from its recipient to its sender, never more than what remains.
// The recipient's funds are checked like any outgoing money (available +
// overdraft, F2's checkOutgoing) but not its spending limits: a reversal
// undoes a payment, it is not spending. An admin may force it past the funds;
// the debt that creates is explicit (forcedDebtMinor on the account row).
import { createHash } from 'node:crypto';
import type { ReversalEvent } from '@wallet/contracts';
import { formatAmountMinor, isCurrencyCode } from '@wallet/platform';
import {
  InvalidArgumentError,
  ReversalExceedsRemainingError,
  ReversalWouldOverdrawError,
  type BankError,
  type FieldViolation,
} from './errors.js';
import { charLength, isUuid, normalizeUuid } from './ids.js';
import { InvariantViolation, type Decision, type OutboxEvent, type Posting } from './ledger.js';
import { checkAmount, isStorableText, type MoneyInput } from './requests.js';
import { checkOutgoing, type SpendingState } from './spending.js';

export const REVERSAL_REASON_LENGTH_MAX = 140;
export const REVERSAL_KEY_LENGTH_MAX = 255;

export interface ReverseTransferInput {
  transferId: string;
  /** Absent: everything that remains. */
  amount: MoneyInput | undefined;
  reason: string;
  idempotencyKey: string;
  force: boolean;
}

export interface ReversalRequest {
  transferId: string;
  /** null: everything that remains. */
  amountMinor: bigint | null;
  currency: string | null;
  reason: string;
  idempotencyKey: string;
  force: boolean;
  requestHash: string;
  /** Subject of the verified caller; recorded, not part of the request hash. */
  initiatedBy: string;
}

/** The original transfer, read under its row lock. */
export interface TransferToReverse {
  id: string;
  senderAccountId: string;
  recipientAccountId: string;
  amountMinor: bigint;
  currency: string;
  reversedMinor: bigint;
}

/** A locked account row as a reversal needs it. */
export interface ReversalAccountState extends SpendingState {
  id: string;
  currency: string;
  version: bigint;
  forcedDebtMinor: bigint;
}

export interface ReversalRecord {
  id: string;
  transferId: string;
  /** The original recipient (debited). */
  fromAccountId: string;
  /** The original sender (credited). */
  toAccountId: string;
  amountMinor: bigint;
  currency: string;
  reason: string;
  forced: boolean;
  /** The debt this reversal created on fromAccountId (0 unless forced past the funds). */
  forcedDebtMinor: bigint;
  remainingAfterMinor: bigint;
  idempotencyKey: string;
  requestHash: string;
  initiatedBy: string | null;
  createdAt: Date;
}

export interface ReversalAccountUpdate {
  id: string;
  balanceMinor: bigint;
  forcedDebtMinor: bigint;
  expectedVersion: bigint;
}

export interface ReversalPlan {
  reversal: ReversalRecord;
  /** [debit of the original recipient, credit of the original sender] */
  postings: [Posting, Posting];
  /** Both rows, in id order. */
  accountUpdates: ReversalAccountUpdate[];
  /** transfers.reversed_minor before (checked by the write) and after. */
  reversedMinorBefore: bigint;
  reversedMinorAfter: bigint;
  events: OutboxEvent[];
}

export interface ReversalIdentity {
  reversalId: string;
  createdAt: Date;
  /** [reversal_out, reversal_in] */
  eventIds: [string, string];
}

export function reversalRequestHash(input: { transferId: string; amountMinor: bigint | null; currency: string | null; reason: string; force: boolean }): string {
  const parts = ['reversal.v1', input.transferId, input.amountMinor?.toString() ?? '', input.currency ?? '', input.reason, String(input.force)];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function checkText(violations: FieldViolation[], field: string, value: string, max: number): void {
  const length = charLength(value);
  if (length < 1 || length > max) violations.push({ field, description: `must be 1-${max} characters` });
  else if (!isStorableText(value)) violations.push({ field, description: 'must not contain NUL characters or unpaired UTF-16 surrogates' });
}

export function validateReversalRequest(input: ReverseTransferInput, limits: { maxAmountMinor: bigint }, initiatedBy: string): ReversalRequest {
  const violations: FieldViolation[] = [];
  if (!isUuid(input.transferId)) violations.push({ field: 'transfer_id', description: 'must be a UUID' });
  checkText(violations, 'reason', input.reason, REVERSAL_REASON_LENGTH_MAX);
  checkText(violations, 'idempotency_key', input.idempotencyKey, REVERSAL_KEY_LENGTH_MAX);
  if (input.amount && !isCurrencyCode(input.amount.currencyCode)) {
    violations.push({ field: 'amount.currency_code', description: 'must be an ISO 4217 code such as USD' });
  }
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  if (input.amount) checkAmount('amount', input.amount.amountMinor, limits.maxAmountMinor);
  const fields = {
    transferId: normalizeUuid(input.transferId),
    amountMinor: input.amount?.amountMinor ?? null,
    currency: input.amount?.currencyCode ?? null,
    reason: input.reason,
    force: input.force,
  };
  return { ...fields, idempotencyKey: input.idempotencyKey, requestHash: reversalRequestHash(fields), initiatedBy };
}

export const REVERSAL_PAGE_SIZE_MAX = 100;

export interface ListReversalsInput {
  transferId: string;
  pageSize: number;
  pageToken: string;
}

export interface ListReversalsRequest {
  transferId: string;
  pageSize: number;
  /** The reversal the page starts after (the page token is its id). */
  afterReversalId: string | null;
}

export function validateListReversalsRequest(input: ListReversalsInput): ListReversalsRequest {
  const violations: FieldViolation[] = [];
  if (!isUuid(input.transferId)) violations.push({ field: 'transfer_id', description: 'must be a UUID' });
  if (!Number.isInteger(input.pageSize) || input.pageSize < 0 || input.pageSize > REVERSAL_PAGE_SIZE_MAX) {
    violations.push({ field: 'page_size', description: `must be 0-${REVERSAL_PAGE_SIZE_MAX} (0: ${REVERSAL_PAGE_SIZE_MAX})` });
  }
  if (input.pageToken !== '' && !isUuid(input.pageToken)) violations.push({ field: 'page_token', description: 'must be a page token from a previous page' });
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return {
    transferId: normalizeUuid(input.transferId),
    pageSize: input.pageSize === 0 ? REVERSAL_PAGE_SIZE_MAX : input.pageSize,
    afterReversalId: input.pageToken === '' ? null : normalizeUuid(input.pageToken),
  };
}

/** Debt below -overdraft after the debit (0 when within the overdraft). */
function debtBelowOverdraft(state: ReversalAccountState, balanceAfterMinor: bigint): bigint {
  const below = -(balanceAfterMinor - state.pendingOutMinor) - state.overdraftLimitMinor;
  return below > 0n ? below : 0n;
}

/**
 * Decides one reversal over the locked transfer and account rows. Checks in
 * order: currency, what remains, the recipient's funds (unless forced).
 */
export function decideReversal(
  request: ReversalRequest,
  transfer: TransferToReverse,
  accounts: { from: ReversalAccountState; to: ReversalAccountState },
  identity: ReversalIdentity,
): Decision<ReversalPlan> {
  const { from, to } = accounts;
  if (from.id !== transfer.recipientAccountId || to.id !== transfer.senderAccountId) throw new InvariantViolation('reversal accounts are not the transfer\'s');
  if (request.currency !== null && request.currency !== transfer.currency) {
    const description = `must be the transfer's currency ${transfer.currency}`;
    return { ok: false, error: new InvalidArgumentError([{ field: 'amount.currency_code', description }]) };
  }
  const remainingMinor = transfer.amountMinor - transfer.reversedMinor;
  const amountMinor = request.amountMinor ?? remainingMinor;
  if (amountMinor <= 0n || amountMinor > remainingMinor) {
    return { ok: false, error: new ReversalExceedsRemainingError(transfer.id, formatAmountMinor(remainingMinor)) };
  }
  // Funds only: spending limits do not apply to a reversal (ADR 0017).
  const funds = checkOutgoing(from.id, { ...from, dailyLimitMinor: null, monthlyLimitMinor: null }, amountMinor, identity.createdAt);
  if (!funds.ok && !request.force) return { ok: false, error: new ReversalWouldOverdrawError(from.id) };

  const fromAfterMinor = from.balanceMinor - amountMinor;
  const toAfterMinor = to.balanceMinor + amountMinor;
  const forced = !funds.ok;
  const debtAfterMinor = forced ? debtBelowOverdraft(from, fromAfterMinor) : 0n;
  const fromDebtMinor = debtAfterMinor > from.forcedDebtMinor ? debtAfterMinor : from.forcedDebtMinor;
  const postings: [Posting, Posting] = [
    { accountId: from.id, amountMinor: -amountMinor, balanceAfterMinor: fromAfterMinor },
    { accountId: to.id, amountMinor, balanceAfterMinor: toAfterMinor },
  ];
  const reversal: ReversalRecord = {
    id: identity.reversalId,
    transferId: transfer.id,
    fromAccountId: from.id,
    toAccountId: to.id,
    amountMinor,
    currency: transfer.currency,
    reason: request.reason,
    forced,
    forcedDebtMinor: fromDebtMinor - from.forcedDebtMinor,
    remainingAfterMinor: remainingMinor - amountMinor,
    idempotencyKey: request.idempotencyKey,
    requestHash: request.requestHash,
    initiatedBy: request.initiatedBy,
    createdAt: identity.createdAt,
  };
  const accountUpdates: ReversalAccountUpdate[] = [
    { id: from.id, balanceMinor: fromAfterMinor, forcedDebtMinor: fromDebtMinor, expectedVersion: from.version },
    { id: to.id, balanceMinor: toAfterMinor, forcedDebtMinor: to.forcedDebtMinor, expectedVersion: to.version },
  ].sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    ok: true,
    plan: {
      reversal,
      postings,
      accountUpdates,
      reversedMinorBefore: transfer.reversedMinor,
      reversedMinorAfter: transfer.reversedMinor + amountMinor,
      events: reversalEvents(reversal, identity.eventIds),
    },
  };
}

/**
 * The refusals decided under the transfer's row lock: the request executed,
 * so they bind its key (ADR 0017, like a refused transfer, ADR 0003).
 * Everything else (malformed, not found, forbidden, unavailable) leaves it free.
 */
export const REVERSAL_BOUND_FAILURES = ['REVERSAL_WOULD_OVERDRAW', 'REVERSAL_EXCEEDS_REMAINING'] as const;
export type ReversalBoundFailure = (typeof REVERSAL_BOUND_FAILURES)[number];

export interface ReversalFailureRecord {
  reason: ReversalBoundFailure;
  requestHash: string;
  metadata: Record<string, string>;
}

export function isReversalBoundFailure(error: BankError): error is BankError & { reason: ReversalBoundFailure } {
  return (REVERSAL_BOUND_FAILURES as readonly string[]).includes(error.reason);
}

/** The stored refusal rebuilt for a replay (metadata.replayed = "true"), as the first answer said it. */
export function replayedReversalFailure(failure: ReversalFailureRecord, transferId: string): BankError {
  const m = (key: string) => failure.metadata[key] ?? '';
  const error =
    failure.reason === 'REVERSAL_WOULD_OVERDRAW'
      ? new ReversalWouldOverdrawError(m('accountId'))
      : new ReversalExceedsRemainingError(m('transferId') || transferId, m('remaining'));
  error.metadata.replayed = 'true';
  return error;
}

/** reversal_out (key = original recipient) and reversal_in (key = original sender), per reversal_event.json. */
export function reversalEvents(reversal: ReversalRecord, eventIds: [string, string]): OutboxEvent[] {
  const common = {
    schemaVersion: 1 as const,
    occurredAt: reversal.createdAt.toISOString(),
    reversalId: reversal.id,
    originalTransferId: reversal.transferId,
    amount: formatAmountMinor(reversal.amountMinor),
    currency: reversal.currency,
    reason: reversal.reason,
    forced: reversal.forced,
    ...(reversal.initiatedBy !== null ? { initiatedBy: reversal.initiatedBy } : {}),
  };
  const out: ReversalEvent = { eventId: eventIds[0], eventType: 'reversal_out', accountId: reversal.fromAccountId, counterpartyAccountId: reversal.toAccountId, ...common };
  const into: ReversalEvent = { eventId: eventIds[1], eventType: 'reversal_in', accountId: reversal.toAccountId, counterpartyAccountId: reversal.fromAccountId, ...common };
  return [
    { accountId: out.accountId, eventType: 'reversal_out', payload: out },
    { accountId: into.accountId, eventType: 'reversal_in', payload: into },
  ];
}
