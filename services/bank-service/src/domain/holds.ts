// Holds (two-phase transfers, ADR 0015) as pure decisions over locked states.
// A pending hold lives in two counters: the sender's pending_out_minor (it is
// no longer available) and the recipient's pending_in_minor (promised, not
// posted). Capture posts an ordinary transfer of the captured amount and
// releases the rest; void and expiry release all. Every decision returns the
// new account states, the final hold and its events; the database layer
// writes them. Which of capture, void and expiry wins is decided by
// `finalAction` over the hold as read under its row lock.
import { createHash } from 'node:crypto';
import type { HoldEvent } from '@wallet/contracts';
import { formatAmountMinor, isCurrencyCode } from '@wallet/platform';
import {
  AccountNotFoundError,
  CaptureExceedsHoldError,
  CurrencyMismatchError,
  HoldNotPendingError,
  InvalidAmountError,
  InvalidArgumentError,
  SameAccountError,
  type BankError,
  type FieldViolation,
  type HoldStatusName,
} from './errors.js';
import { advisoryLockKey } from './hashing.js';
import { charLength, isSystemAccountId, isUuid, normalizeUuid } from './ids.js';
import { InvariantViolation, transferEvents, type AccountKind, type OutboxEvent, type Posting, type TransferRecord } from './ledger.js';
import { DESCRIPTION_LENGTH_MAX, IDEMPOTENCY_KEY_LENGTH_MAX, isStorableText, type MoneyInput } from './requests.js';
import { checkOutgoing, releaseSpend, type SpendingState } from './spending.js';

/** A locked account row as holds see it: the spending state plus what a hold changes. */
export interface HoldAccountState extends SpendingState {
  id: string;
  kind: AccountKind;
  currency: string;
  pendingInMinor: bigint;
  version: bigint;
}

export type HoldAccounts = Map<string, HoldAccountState>;

export interface HoldRecord {
  id: string;
  senderAccountId: string;
  recipientAccountId: string;
  amountMinor: bigint;
  currency: string;
  status: HoldStatusName;
  capturedMinor: bigint | null;
  transferId: string | null;
  description: string;
  idempotencyKey: string;
  requestHash: string;
  initiatedBy: string | null;
  createdAt: Date;
  expiresAt: Date;
  finalizedAt: Date | null;
}

export interface CreateHoldInput {
  senderAccountId: string;
  recipientAccountId: string;
  amount: MoneyInput | undefined;
  idempotencyKey: string;
  description: string;
  expiresAt: Date | undefined;
}

export interface CreateHoldRequest {
  senderAccountId: string;
  recipientAccountId: string;
  amountMinor: bigint;
  currency: string;
  idempotencyKey: string;
  description: string;
  /** As asked (undefined: the default expiry); part of the request hash, so a retry without it replays. */
  expiresAt: Date | undefined;
  requestHash: string;
  initiatedBy: string;
}

export interface HoldExpiryLimits {
  expiryDefaultMs: number;
  expiryMsMax: number;
}

/** Capture transfers carry this key; TransferMoney refuses the prefix (and the schema backstops it). */
export const HOLD_TRANSFER_KEY_PREFIX = 'hold:';

export function holdTransferKey(holdId: string): string {
  return `${HOLD_TRANSFER_KEY_PREFIX}${holdId}`;
}

export function holdLockKey(senderAccountId: string, idempotencyKey: string): bigint {
  return advisoryLockKey('bank.hold', senderAccountId, idempotencyKey);
}

function sha256Hex(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function checkText(violations: FieldViolation[], field: string, value: string, min: number, max: number): void {
  const length = charLength(value);
  if (length < min || length > max) {
    violations.push({ field, description: min > 0 ? `must be ${min}-${max} characters` : `must be at most ${max} characters` });
  } else if (!isStorableText(value)) {
    violations.push({ field, description: 'must not contain NUL characters or unpaired UTF-16 surrogates' });
  }
}

function checkMoney(violations: FieldViolation[], amount: MoneyInput | undefined, required: boolean): void {
  if (!amount) {
    if (required) violations.push({ field: 'amount', description: 'is required' });
  } else if (!isCurrencyCode(amount.currencyCode)) {
    violations.push({ field: 'amount.currency_code', description: 'must be an ISO 4217 code such as USD' });
  }
}

function checkAmountMinor(amountMinor: bigint, maxAmountMinor: bigint): void {
  if (amountMinor <= 0n) throw new InvalidAmountError('amount.amount_minor', 'must be greater than zero');
  if (amountMinor > maxAmountMinor) throw new InvalidAmountError('amount.amount_minor', `must not exceed ${maxAmountMinor.toString()} minor units`);
}

/** Cheap checks of CreateHold before any database work. */
export function validateCreateHold(
  input: CreateHoldInput,
  limits: { maxAmountMinor: bigint },
  initiatedBy: string,
): CreateHoldRequest {
  const violations: FieldViolation[] = [];
  if (!isUuid(input.senderAccountId)) violations.push({ field: 'sender_account_id', description: 'must be a UUID' });
  if (!isUuid(input.recipientAccountId)) violations.push({ field: 'recipient_account_id', description: 'must be a UUID' });
  checkMoney(violations, input.amount, true);
  checkText(violations, 'idempotency_key', input.idempotencyKey, 1, IDEMPOTENCY_KEY_LENGTH_MAX);
  checkText(violations, 'description', input.description, 0, DESCRIPTION_LENGTH_MAX);
  const expiresAt = input.expiresAt;
  // Whether it is ahead of now and within the maximum is checked after the replay lookup (app/holds.ts).
  if (expiresAt !== undefined && !Number.isFinite(expiresAt.getTime())) {
    violations.push({ field: 'expires_at', description: 'must be a valid timestamp' });
  }
  if (violations.length > 0 || !input.amount) throw new InvalidArgumentError(violations);
  checkAmountMinor(input.amount.amountMinor, limits.maxAmountMinor);
  const senderAccountId = normalizeUuid(input.senderAccountId);
  const recipientAccountId = normalizeUuid(input.recipientAccountId);
  if (senderAccountId === recipientAccountId) throw new SameAccountError(senderAccountId);
  if (isSystemAccountId(senderAccountId)) throw new AccountNotFoundError(senderAccountId, 'sender');
  if (isSystemAccountId(recipientAccountId)) throw new AccountNotFoundError(recipientAccountId, 'recipient');
  const fields = { senderAccountId, recipientAccountId, amountMinor: input.amount.amountMinor, currency: input.amount.currencyCode, description: input.description };
  const requestHash = sha256Hex([
    'hold.v1',
    senderAccountId,
    recipientAccountId,
    fields.amountMinor.toString(),
    fields.currency,
    fields.description,
    expiresAt?.toISOString() ?? '',
  ]);
  return { ...fields, idempotencyKey: input.idempotencyKey, expiresAt, requestHash, initiatedBy };
}

export function validateHoldId(holdId: string): string {
  if (!isUuid(holdId)) throw new InvalidArgumentError([{ field: 'hold_id', description: 'must be a UUID' }]);
  return normalizeUuid(holdId);
}

/** A capture's amount: undefined = all of it; otherwise positive (the held maximum is checked under lock). */
export function validateCaptureAmount(amount: MoneyInput | undefined): MoneyInput | undefined {
  const violations: FieldViolation[] = [];
  checkMoney(violations, amount, false);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  if (amount && amount.amountMinor <= 0n) throw new InvalidAmountError('amount.amount_minor', 'must be greater than zero');
  return amount;
}

/** The expiry a new hold gets: the one asked for, or now + the default. */
export function resolveExpiry(request: Pick<CreateHoldRequest, 'expiresAt'>, createdAt: Date, limits: HoldExpiryLimits): Date {
  return request.expiresAt ?? new Date(createdAt.getTime() + limits.expiryDefaultMs);
}

export type HoldAction = 'capture' | 'void';

/**
 * What a capture or void does with the hold as read under its row lock:
 * proceed (pending and not yet due), expire first (pending but past its
 * expiry: the expiry wins, exactly as if the sweep had run), replay (the same
 * action already won with the same amount), or refuse (another action won).
 */
export type FinalAction = { kind: 'proceed' } | { kind: 'expire' } | { kind: 'replay' } | { kind: 'refuse'; error: BankError };

export function finalAction(hold: HoldRecord, action: HoldAction, captureMinor: bigint | undefined, now: Date): FinalAction {
  if (hold.status === 'pending') return hold.expiresAt.getTime() <= now.getTime() ? { kind: 'expire' } : { kind: 'proceed' };
  const sameCapture = action === 'capture' && hold.status === 'captured' && hold.capturedMinor === (captureMinor ?? hold.amountMinor);
  if (sameCapture || (action === 'void' && hold.status === 'voided')) return { kind: 'replay' };
  return { kind: 'refuse', error: new HoldNotPendingError(hold.id, hold.status) };
}

/** The amount a capture posts: all of it by default; at most the held amount, in its currency. */
export function captureAmount(hold: HoldRecord, amount: MoneyInput | undefined): bigint {
  if (!amount) return hold.amountMinor;
  if (amount.currencyCode !== hold.currency || amount.amountMinor > hold.amountMinor) {
    throw new CaptureExceedsHoldError(hold.id, `${formatAmountMinor(hold.amountMinor)} ${hold.currency}`);
  }
  return amount.amountMinor;
}

function customer(accounts: HoldAccounts, id: string): HoldAccountState | undefined {
  const account = accounts.get(id);
  return account && account.kind === 'customer' ? account : undefined;
}

function locked(accounts: HoldAccounts, id: string): HoldAccountState {
  const account = accounts.get(id);
  if (!account) throw new InvariantViolation(`account ${id} of a hold is not locked`);
  return account;
}

function nonNegative(name: string, value: bigint): bigint {
  if (value < 0n) throw new InvariantViolation(`${name} would be ${value.toString()}`);
  return value;
}

/** hold_* events for both sides (direction out: the sender's, in: the recipient's). */
export function holdEvents(
  hold: HoldRecord,
  eventType: HoldEvent['eventType'],
  amountMinor: bigint,
  at: Date,
  eventIds: readonly [string, string],
  extra: { transferId?: string; initiatedBy?: string | null } = {},
): OutboxEvent[] {
  const common = {
    eventType,
    schemaVersion: 1 as const,
    occurredAt: at.toISOString(),
    holdId: hold.id,
    amount: formatAmountMinor(amountMinor),
    currency: hold.currency,
    ...(extra.transferId !== undefined ? { transferId: extra.transferId } : {}),
    ...(eventType === 'hold_created' ? { expiresAt: hold.expiresAt.toISOString() } : {}),
    ...(hold.description ? { description: hold.description } : {}),
    ...(extra.initiatedBy ? { initiatedBy: extra.initiatedBy } : {}),
  };
  const out: HoldEvent = { eventId: eventIds[0], accountId: hold.senderAccountId, counterpartyAccountId: hold.recipientAccountId, direction: 'out', ...common };
  const into: HoldEvent = { eventId: eventIds[1], accountId: hold.recipientAccountId, counterpartyAccountId: hold.senderAccountId, direction: 'in', ...common };
  return [
    { accountId: out.accountId, eventType, payload: out },
    { accountId: into.accountId, eventType, payload: into },
  ];
}

export interface HoldIdentity {
  holdId: string;
  createdAt: Date;
  expiresAt: Date;
  eventIds: [string, string];
}

export type HoldDecision<P> = { ok: true; plan: P } | { ok: false; error: BankError };

export interface HoldPlan {
  hold: HoldRecord;
  events: OutboxEvent[];
}

/**
 * CreateHold over the locked rows: existence, currency, then funds and
 * limits (F2's checkOutgoing, as a transfer). Updates `accounts` in place
 * only when it succeeds.
 */
export function decideCreateHold(request: CreateHoldRequest, identity: HoldIdentity, accounts: HoldAccounts): HoldDecision<HoldPlan> {
  const sender = customer(accounts, request.senderAccountId);
  if (!sender) return { ok: false, error: new AccountNotFoundError(request.senderAccountId, 'sender') };
  const recipient = customer(accounts, request.recipientAccountId);
  if (!recipient) return { ok: false, error: new AccountNotFoundError(request.recipientAccountId, 'recipient') };
  for (const account of [sender, recipient]) {
    if (account.currency !== request.currency) return { ok: false, error: new CurrencyMismatchError(account.id, account.currency, request.currency) };
  }
  const check = checkOutgoing(sender.id, sender, request.amountMinor, identity.createdAt);
  if (!check.ok) return check;
  accounts.set(sender.id, { ...sender, ...check.spend, pendingOutMinor: sender.pendingOutMinor + request.amountMinor });
  accounts.set(recipient.id, { ...recipient, pendingInMinor: recipient.pendingInMinor + request.amountMinor });
  const hold: HoldRecord = {
    id: identity.holdId,
    senderAccountId: sender.id,
    recipientAccountId: recipient.id,
    amountMinor: request.amountMinor,
    currency: request.currency,
    status: 'pending',
    capturedMinor: null,
    transferId: null,
    description: request.description,
    idempotencyKey: request.idempotencyKey,
    requestHash: request.requestHash,
    initiatedBy: request.initiatedBy,
    createdAt: identity.createdAt,
    expiresAt: identity.expiresAt,
    finalizedAt: null,
  };
  return { ok: true, plan: { hold, events: holdEvents(hold, 'hold_created', hold.amountMinor, hold.createdAt, identity.eventIds, { initiatedBy: hold.initiatedBy }) } };
}

/**
 * Takes a pending hold off both accounts: the held amount leaves the
 * sender's pending_out and the recipient's pending_in; `releasedMinor` (what
 * is not posted) goes back to the sender's spending windows.
 */
function unreserve(accounts: HoldAccounts, hold: HoldRecord, releasedMinor: bigint, postedMinor: bigint, at: Date): void {
  const sender = locked(accounts, hold.senderAccountId);
  const recipient = locked(accounts, hold.recipientAccountId);
  const spend = releasedMinor > 0n ? releaseSpend(sender, releasedMinor, hold.createdAt, at) : {};
  accounts.set(sender.id, {
    ...sender,
    ...spend,
    balanceMinor: sender.balanceMinor - postedMinor,
    pendingOutMinor: nonNegative(`pending_out_minor of ${sender.id}`, sender.pendingOutMinor - hold.amountMinor),
  });
  accounts.set(recipient.id, {
    ...recipient,
    balanceMinor: recipient.balanceMinor + postedMinor,
    pendingInMinor: nonNegative(`pending_in_minor of ${recipient.id}`, recipient.pendingInMinor - hold.amountMinor),
  });
}

function assertPending(hold: HoldRecord): void {
  if (hold.status !== 'pending') throw new InvariantViolation(`hold ${hold.id} is ${hold.status}, not pending`);
}

/** Void or expiry: everything released, nothing posted. */
export function decideRelease(
  hold: HoldRecord,
  status: 'voided' | 'expired',
  at: Date,
  eventIds: [string, string],
  accounts: HoldAccounts,
  initiatedBy: string | null,
): HoldPlan {
  assertPending(hold);
  unreserve(accounts, hold, hold.amountMinor, 0n, at);
  const final: HoldRecord = { ...hold, status, finalizedAt: at };
  return { hold: final, events: holdEvents(final, status === 'voided' ? 'hold_voided' : 'hold_expired', hold.amountMinor, at, eventIds, { initiatedBy }) };
}

export interface CapturePlan extends HoldPlan {
  transfer: TransferRecord;
  /** [debit of the sender, credit of the recipient] */
  postings: [Posting, Posting];
}

export interface CaptureIdentity {
  transferId: string;
  at: Date;
  /** hold_captured out/in, transfer_out/in */
  eventIds: [string, string, string, string];
}

/** Capture: the captured amount is posted as a transfer, the rest released. */
export function decideCapture(hold: HoldRecord, capturedMinor: bigint, identity: CaptureIdentity, accounts: HoldAccounts, initiatedBy: string): CapturePlan {
  assertPending(hold);
  if (capturedMinor <= 0n || capturedMinor > hold.amountMinor) throw new InvariantViolation(`capture of ${capturedMinor.toString()} from a hold of ${hold.amountMinor.toString()}`);
  unreserve(accounts, hold, hold.amountMinor - capturedMinor, capturedMinor, identity.at);
  const sender = locked(accounts, hold.senderAccountId);
  const recipient = locked(accounts, hold.recipientAccountId);
  const postings: [Posting, Posting] = [
    { accountId: sender.id, amountMinor: -capturedMinor, balanceAfterMinor: sender.balanceMinor },
    { accountId: recipient.id, amountMinor: capturedMinor, balanceAfterMinor: recipient.balanceMinor },
  ];
  const transfer: TransferRecord = {
    id: identity.transferId,
    senderAccountId: hold.senderAccountId,
    recipientAccountId: hold.recipientAccountId,
    amountMinor: capturedMinor,
    currency: hold.currency,
    status: 'completed',
    description: hold.description,
    idempotencyKey: holdTransferKey(hold.id),
    requestHash: sha256Hex(['hold_capture.v1', hold.id, capturedMinor.toString()]),
    createdAt: identity.at,
    initiatedBy,
  };
  const final: HoldRecord = { ...hold, status: 'captured', capturedMinor, transferId: transfer.id, finalizedAt: identity.at };
  const [e0, e1, e2, e3] = identity.eventIds;
  // hold_captured first: its payload names the transfer whose events follow.
  const events = [
    ...holdEvents(final, 'hold_captured', capturedMinor, identity.at, [e0, e1], { transferId: transfer.id, initiatedBy }),
    ...transferEvents(transfer, [e2, e3]),
  ];
  return { hold: final, transfer, postings, events };
}

export interface HoldAccountUpdate {
  id: string;
  balanceMinor: bigint;
  pendingOutMinor: bigint;
  pendingInMinor: bigint;
  spentDay: string | null;
  spentDayMinor: bigint;
  spentMonth: string | null;
  spentMonthMinor: bigint;
  expectedVersion: bigint;
}

/** The final state of every account that changed, in id order, guarded by the version read under lock. */
export function holdAccountUpdates(before: ReadonlyMap<string, HoldAccountState>, after: HoldAccounts): HoldAccountUpdate[] {
  const updates: HoldAccountUpdate[] = [];
  for (const id of [...after.keys()].sort()) {
    const a = after.get(id)!;
    const b = before.get(id)!;
    const changed =
      a.balanceMinor !== b.balanceMinor ||
      a.pendingOutMinor !== b.pendingOutMinor ||
      a.pendingInMinor !== b.pendingInMinor ||
      a.spentDay !== b.spentDay ||
      a.spentDayMinor !== b.spentDayMinor ||
      a.spentMonth !== b.spentMonth ||
      a.spentMonthMinor !== b.spentMonthMinor;
    if (!changed) continue;
    updates.push({
      id,
      balanceMinor: a.balanceMinor,
      pendingOutMinor: a.pendingOutMinor,
      pendingInMinor: a.pendingInMinor,
      spentDay: a.spentDay,
      spentDayMinor: a.spentDayMinor,
      spentMonth: a.spentMonth,
      spentMonthMinor: a.spentMonthMinor,
      expectedVersion: b.version,
    });
  }
  return updates;
}
