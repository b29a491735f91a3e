// Group commit, the pure part: decide a batch of transfers in arrival order
// over one set of locked account states. Each request is judged on its own
// (idempotency, existence, currency, funds, spending limits) but sees the
// balances and spending counters left by the requests before it, so a sender that runs dry mid-batch rejects only the
// later ones. The result is one plan list, one balance update per account and
// the business failures to bind to their keys: what a single write statement
// and a single commit need.
import {
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  isBoundFailure,
  replayedFailure,
  StorageUnavailableError,
  type BankError,
  type BoundFailureReason,
} from './errors.js';
import {
  accountUpdates,
  applyPostings,
  decideTransfer,
  isSameRequest,
  type AccountState,
  type AccountStates,
  type AccountUpdate,
  type StoredFailure,
  type TransferIdentity,
  type TransferPlan,
  type TransferRecord,
} from './ledger.js';
import type { TransferRequest } from './requests.js';

export interface TransferBatchItem {
  request: TransferRequest;
  /** false: another transaction holds this key's idempotency lock right now. */
  keyLocked: boolean;
  /** The transfer already stored under (sender, idempotency key), if any. */
  existing: TransferRecord | undefined;
  /** The business failure already stored under (sender, idempotency key), if any. */
  storedFailure?: StoredFailure | undefined;
  /** true: an account row of this request is locked elsewhere and was skipped (nothing executes). */
  accountsBusy?: boolean;
}

export type TransferOutcome = { ok: true; transfer: TransferRecord; replayed: boolean } | { ok: false; error: BankError };

/** A business failure to store under its key, in the same transaction. */
export interface TransferFailureRecord {
  senderAccountId: string;
  idempotencyKey: string;
  requestHash: string;
  reason: BoundFailureReason;
  metadata: Record<string, string>;
}

export interface TransferBatchDecision {
  /** One outcome per item, same order. */
  outcomes: TransferOutcome[];
  /** Accepted transfers in decision order (outbox and ledger rows follow it). */
  plans: TransferPlan[];
  /** Final balance of every account the plans touched (empty when nothing was accepted). */
  updates: AccountUpdate[];
  /** Business failures that bind their keys (ADR 0003). */
  failures: TransferFailureRecord[];
}

/** Identity of an idempotent request: the key is scoped per sender. */
export function idempotencyScope(request: Pick<TransferRequest, 'senderAccountId' | 'idempotencyKey'>): string {
  // A UUID never contains a newline, so the pair cannot be ambiguous.
  return `${request.senderAccountId}\n${request.idempotencyKey}`;
}

/**
 * What a second request with the same (sender, key) in one batch gets: what
 * the database would answer once the first commits. A completed transfer or a
 * bound failure replays for the same request and is REUSED for another;
 * anything else (not executed) is IN_FLIGHT, as for any concurrent duplicate.
 */
export function duplicateOutcome(first: TransferOutcome, firstRequest: TransferRequest, request: TransferRequest): TransferOutcome {
  const executed = first.ok || isBoundFailure(first.error);
  if (!executed) return { ok: false, error: new IdempotencyKeyInFlightError() };
  if (!isSameRequest(firstRequest, request)) return { ok: false, error: new IdempotencyKeyReusedError('idempotency_key') };
  if (first.ok) return { ok: true, transfer: first.transfer, replayed: true };
  const error = first.error as BankError & { reason: BoundFailureReason };
  return { ok: false, error: replayedFailure(error.reason, error.metadata) };
}

/**
 * Decides every item in order over the locked states. `locked` holds the
 * rows as read under FOR UPDATE; they are not modified. `newIdentity` is
 * called once per transfer that is actually decided, in decision order (ids
 * and time stay the caller's choice, so this function is deterministic).
 */
export function decideTransferBatch(
  items: readonly TransferBatchItem[],
  locked: AccountStates,
  newIdentity: () => TransferIdentity,
): TransferBatchDecision {
  const working = new Map(locked);
  const plans: TransferPlan[] = [];
  const failures: TransferFailureRecord[] = [];
  const firstByScope = new Map<string, number>();
  const outcomes: TransferOutcome[] = [];
  for (const [index, item] of items.entries()) {
    const scope = idempotencyScope(item.request);
    const first = firstByScope.get(scope);
    if (first !== undefined) {
      // The same key twice in one batch: the advisory lock is re-entrant
      // within a session, so only this check keeps the second from executing.
      outcomes.push(duplicateOutcome(outcomes[first]!, items[first]!.request, item.request));
      continue;
    }
    firstByScope.set(scope, index);
    const outcome = decideOne(item, working, plans, newIdentity);
    if (!outcome.ok && outcome.executed) failures.push(failureRecord(item.request, outcome.error));
    outcomes.push(outcome.ok ? outcome : { ok: false, error: outcome.error });
  }
  return { outcomes, plans, updates: plans.length > 0 ? accountUpdates(locked, plans) : [], failures };
}

function failureRecord(request: TransferRequest, error: BankError & { reason: BoundFailureReason }): TransferFailureRecord {
  return {
    senderAccountId: request.senderAccountId,
    idempotencyKey: request.idempotencyKey,
    requestHash: request.requestHash,
    reason: error.reason,
    metadata: { ...error.metadata },
  };
}

type DecidedOne =
  | { ok: true; transfer: TransferRecord; replayed: boolean }
  | { ok: false; error: BankError; executed: false }
  | { ok: false; error: BankError & { reason: BoundFailureReason }; executed: true };

function decideOne(
  item: TransferBatchItem,
  working: Map<string, AccountState>,
  plans: TransferPlan[],
  newIdentity: () => TransferIdentity,
): DecidedOne {
  if (!item.keyLocked) return { ok: false, error: new IdempotencyKeyInFlightError(), executed: false };
  const stored = item.existing ?? item.storedFailure;
  if (stored && !isSameRequest(stored, item.request)) {
    return { ok: false, error: new IdempotencyKeyReusedError('idempotency_key'), executed: false };
  }
  if (item.existing) return { ok: true, transfer: item.existing, replayed: true };
  if (item.storedFailure) {
    return { ok: false, error: replayedFailure(item.storedFailure.reason, item.storedFailure.metadata), executed: false };
  }
  // Its row stayed locked elsewhere past the lock timeout this batch already waited once.
  if (item.accountsBusy) return { ok: false, error: new StorageUnavailableError('timeout'), executed: false };
  const decision = decideTransfer(item.request, newIdentity(), working);
  if (!decision.ok) {
    const { error } = decision;
    return isBoundFailure(error) ? { ok: false, error, executed: true } : { ok: false, error, executed: false };
  }
  applyPostings(working, decision.plan.postings, decision.plan.spends);
  plans.push(decision.plan);
  return { ok: true, transfer: decision.plan.transfer, replayed: false };
}
