// The ledger's decisions as pure functions over locked account states. The
// database layer locks rows, hands their states here, and writes whatever
// plan comes back. Because a decision also returns the postings, several
// decisions can be chained over the same in-memory states (applyPostings),
// which is what a later "group commit" of transfers on a hot account needs:
// lock once, decide each request in turn, write all plans in one statement.
import type { HoldEvent, RefundEvent, ReversalEvent, TopUpEvent, TransferEvent } from '@wallet/contracts';
import { formatAmountMinor } from '@wallet/platform';
import {
  AccountNotFoundError,
  CurrencyMismatchError,
  SameAccountError,
  type BankError,
  type BoundFailureReason,
} from './errors.js';
import type { DepositRequest, TransferRequest } from './requests.js';
import { availableMinor, checkOutgoing, type SpendingState, type SpendUpdate } from './spending.js';

export type AccountKind = 'customer' | 'settlement';

/** A locked account row: balance, version, and what outgoing money is checked against (ADR 0016). */
export interface AccountState extends SpendingState {
  id: string;
  kind: AccountKind;
  currency: string;
  version: bigint;
}

/** New spending counters of an account, decided with a movement (carried across a batch). */
export interface AccountSpend {
  accountId: string;
  update: SpendUpdate;
}

/** One side of a double entry: signed amount and the account balance after it. */
export interface Posting {
  accountId: string;
  amountMinor: bigint;
  balanceAfterMinor: bigint;
}

export interface TransferRecord {
  id: string;
  senderAccountId: string;
  recipientAccountId: string;
  amountMinor: bigint;
  currency: string;
  status: 'completed';
  description: string;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
  /** Subject of the verified caller who made it; null for transfers made before identity existed. */
  initiatedBy: string | null;
}

export interface DepositRecord {
  id: string;
  accountId: string;
  amountMinor: bigint;
  currency: string;
  depositReference: string;
  topUpId: string;
  cardLast4: string;
  cardBrand: string;
  requestHash: string;
  createdAt: Date;
  /** Subject of the user who asked for the top-up; null for deposits made before identity existed. */
  initiatedBy: string | null;
}

/** The answer stored for a request that executed and failed for a business reason. */
export interface StoredFailure {
  requestHash: string;
  reason: BoundFailureReason;
  metadata: Record<string, string>;
}

/** A row for the transactional outbox; accountId is the Kafka key. */
export interface OutboxEvent {
  accountId: string;
  eventType: (TransferEvent | TopUpEvent | HoldEvent | ReversalEvent | RefundEvent)['eventType'];
  payload: TransferEvent | TopUpEvent | HoldEvent | ReversalEvent | RefundEvent;
}

export interface TransferPlan {
  transfer: TransferRecord;
  /** [debit of the sender, credit of the recipient] */
  postings: [Posting, Posting];
  /** The sender's spending counters after this transfer. */
  spends: AccountSpend[];
  events: OutboxEvent[];
}

export interface DepositPlan {
  deposit: DepositRecord;
  /** [debit of the settlement account, credit of the customer] */
  postings: [Posting, Posting];
  events: OutboxEvent[];
}

/** Ids and time chosen by the caller, so decisions stay deterministic. */
export interface TransferIdentity {
  transferId: string;
  createdAt: Date;
  /** [transfer_out event id, transfer_in event id] */
  eventIds: [string, string];
}

export interface DepositIdentity {
  depositId: string;
  createdAt: Date;
  eventId: string;
}

export type Decision<P> = { ok: true; plan: P } | { ok: false; error: BankError };

export type AccountStates = ReadonlyMap<string, AccountState>;

/** TigerStyle assertion: a broken invariant is a bug, never a business outcome. */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = 'InvariantViolation';
  }
}

function assertBalanced(postings: readonly Posting[]): void {
  const sum = postings.reduce((total, p) => total + p.amountMinor, 0n);
  if (sum !== 0n) throw new InvariantViolation(`postings sum to ${sum.toString()}, not 0`);
}

function customerAccount(accounts: AccountStates, id: string): AccountState | undefined {
  const account = accounts.get(id);
  // System accounts (settlement) are not addressable by customers.
  return account && account.kind === 'customer' ? account : undefined;
}

/**
 * Decides one transfer over the current (locked) account states. Order of
 * checks: existence, currency, funds (available + overdraft), spending
 * limits; so a caller hears about the most fundamental problem first.
 */
export function decideTransfer(request: TransferRequest, identity: TransferIdentity, accounts: AccountStates): Decision<TransferPlan> {
  if (request.senderAccountId === request.recipientAccountId) {
    return { ok: false, error: new SameAccountError(request.senderAccountId) };
  }
  const sender = customerAccount(accounts, request.senderAccountId);
  if (!sender) return { ok: false, error: new AccountNotFoundError(request.senderAccountId, 'sender') };
  const recipient = customerAccount(accounts, request.recipientAccountId);
  if (!recipient) return { ok: false, error: new AccountNotFoundError(request.recipientAccountId, 'recipient') };
  for (const account of [sender, recipient]) {
    if (account.currency !== request.currency) {
      return { ok: false, error: new CurrencyMismatchError(account.id, account.currency, request.currency) };
    }
  }
  const outgoing = checkOutgoing(sender.id, sender, request.amountMinor, identity.createdAt);
  if (!outgoing.ok) return outgoing;

  const postings: [Posting, Posting] = [
    { accountId: sender.id, amountMinor: -request.amountMinor, balanceAfterMinor: sender.balanceMinor - request.amountMinor },
    { accountId: recipient.id, amountMinor: request.amountMinor, balanceAfterMinor: recipient.balanceMinor + request.amountMinor },
  ];
  assertBalanced(postings);
  const transfer: TransferRecord = {
    id: identity.transferId,
    senderAccountId: sender.id,
    recipientAccountId: recipient.id,
    amountMinor: request.amountMinor,
    currency: request.currency,
    status: 'completed',
    description: request.description,
    idempotencyKey: request.idempotencyKey,
    requestHash: request.requestHash,
    createdAt: identity.createdAt,
    initiatedBy: request.initiatedBy,
  };
  const spends = [{ accountId: sender.id, update: outgoing.spend }];
  return { ok: true, plan: { transfer, postings, spends, events: transferEvents(transfer, identity.eventIds) } };
}

/**
 * Decides one deposit: credit a customer account, debit the settlement
 * account (which may go negative: it mirrors money held outside the wallet).
 */
export function decideDeposit(
  request: DepositRequest,
  identity: DepositIdentity,
  accounts: AccountStates,
  settlementAccountId: string,
): Decision<DepositPlan> {
  const account = customerAccount(accounts, request.accountId);
  if (!account) return { ok: false, error: new AccountNotFoundError(request.accountId, 'account') };
  const settlement = accounts.get(settlementAccountId);
  if (!settlement || settlement.kind !== 'settlement') {
    throw new InvariantViolation(`settlement account ${settlementAccountId} is missing`);
  }
  for (const a of [account, settlement]) {
    if (a.currency !== request.currency) {
      return { ok: false, error: new CurrencyMismatchError(a.id, a.currency, request.currency) };
    }
  }
  const postings: [Posting, Posting] = [
    { accountId: settlement.id, amountMinor: -request.amountMinor, balanceAfterMinor: settlement.balanceMinor - request.amountMinor },
    { accountId: account.id, amountMinor: request.amountMinor, balanceAfterMinor: account.balanceMinor + request.amountMinor },
  ];
  assertBalanced(postings);
  const deposit: DepositRecord = {
    id: identity.depositId,
    accountId: account.id,
    amountMinor: request.amountMinor,
    currency: request.currency,
    depositReference: request.depositReference,
    topUpId: request.topUpId,
    cardLast4: request.cardLast4,
    cardBrand: request.cardBrand,
    requestHash: request.requestHash,
    createdAt: identity.createdAt,
    initiatedBy: request.initiatedBy,
  };
  return { ok: true, plan: { deposit, postings, events: [topUpEvent(deposit, identity.eventId)] } };
}

/**
 * Applies postings (and new spending counters) to working states, for
 * chaining decisions in one batch: the next decision sees this one's balance
 * and spend.
 */
export function applyPostings(
  accounts: Map<string, AccountState>,
  postings: readonly Posting[],
  spends: readonly AccountSpend[] = [],
): void {
  for (const posting of postings) {
    const account = accounts.get(posting.accountId);
    if (!account) throw new InvariantViolation(`posting to unlocked account ${posting.accountId}`);
    const balanceMinor = account.balanceMinor + posting.amountMinor;
    if (balanceMinor !== posting.balanceAfterMinor) throw new InvariantViolation('posting balance out of step');
    const next = { ...account, balanceMinor };
    // Only a debit must stay within the overdraft: a credit to an account that
    // a forced reversal left below it is fine (it only gets closer).
    if (account.kind === 'customer' && posting.amountMinor < 0n && availableMinor(next) < -account.overdraftLimitMinor) {
      throw new InvariantViolation(`account ${account.id} below its overdraft`);
    }
    accounts.set(posting.accountId, next);
  }
  for (const spend of spends) {
    const account = accounts.get(spend.accountId);
    if (!account) throw new InvariantViolation(`spend of unlocked account ${spend.accountId}`);
    accounts.set(spend.accountId, { ...account, ...spend.update });
  }
}

export interface AccountUpdate {
  id: string;
  balanceMinor: bigint;
  /** The version read under the row lock; the write checks it is unchanged. */
  expectedVersion: bigint;
  /** Spending counters after the plans (as locked when no plan spent from this account). */
  spentDay: string | null;
  spentDayMinor: bigint;
  spentMonth: string | null;
  spentMonthMinor: bigint;
}

/** Final balance and spending counters of every account the plans touched, for a single UPDATE. */
export function accountUpdates(
  locked: AccountStates,
  plans: ReadonlyArray<{ postings: readonly Posting[]; spends?: readonly AccountSpend[] }>,
): AccountUpdate[] {
  const working = new Map(locked);
  for (const plan of plans) applyPostings(working, plan.postings, plan.spends);
  const touched = new Set(plans.flatMap((plan) => plan.postings.map((p) => p.accountId)));
  return [...touched].sort().map((id) => {
    const before = locked.get(id)!;
    const after = working.get(id)!;
    return {
      id,
      balanceMinor: after.balanceMinor,
      expectedVersion: before.version,
      spentDay: after.spentDay,
      spentDayMinor: after.spentDayMinor,
      spentMonth: after.spentMonth,
      spentMonthMinor: after.spentMonthMinor,
    };
  });
}

/** transfer_out (key = sender) and transfer_in (key = recipient), per transfer_event.json. */
export function transferEvents(transfer: TransferRecord, eventIds: [string, string]): OutboxEvent[] {
  const common = {
    schemaVersion: 1 as const,
    occurredAt: transfer.createdAt.toISOString(),
    transferId: transfer.id,
    amount: formatAmountMinor(transfer.amountMinor),
    currency: transfer.currency,
    ...(transfer.description ? { description: transfer.description } : {}),
    ...(transfer.initiatedBy !== null ? { initiatedBy: transfer.initiatedBy } : {}),
  };
  const out: TransferEvent = {
    eventId: eventIds[0],
    eventType: 'transfer_out',
    accountId: transfer.senderAccountId,
    counterpartyAccountId: transfer.recipientAccountId,
    ...common,
  };
  const into: TransferEvent = {
    eventId: eventIds[1],
    eventType: 'transfer_in',
    accountId: transfer.recipientAccountId,
    counterpartyAccountId: transfer.senderAccountId,
    ...common,
  };
  return [
    { accountId: out.accountId, eventType: 'transfer_out', payload: out },
    { accountId: into.accountId, eventType: 'transfer_in', payload: into },
  ];
}

/** topup (key = credited account), per topup_event.json. */
export function topUpEvent(deposit: DepositRecord, eventId: string): OutboxEvent {
  const payload: TopUpEvent = {
    eventId,
    eventType: 'topup',
    schemaVersion: 1,
    occurredAt: deposit.createdAt.toISOString(),
    accountId: deposit.accountId,
    topUpId: deposit.topUpId,
    depositId: deposit.id,
    amount: formatAmountMinor(deposit.amountMinor),
    currency: deposit.currency,
    cardLast4: deposit.cardLast4,
    ...(deposit.cardBrand ? { cardBrand: deposit.cardBrand } : {}),
    ...(deposit.initiatedBy !== null ? { initiatedBy: deposit.initiatedBy } : {}),
  };
  return { accountId: deposit.accountId, eventType: 'topup', payload };
}

/** Replay check: the stored request hash decides replay vs misuse of the key. */
export function isSameRequest(stored: { requestHash: string }, request: { requestHash: string }): boolean {
  return stored.requestHash === request.requestHash;
}
