// Group commit, the pure part: decide a batch of transfers in arrival order
// over one set of locked account states. Each request is judged on its own
// (idempotency, existence, currency, funds) but sees the balances left by the
// requests before it, so a sender that runs dry mid-batch rejects only the
// later ones. The result is one plan list and one balance update per account:
// what a single write statement and a single commit need.
import { IdempotencyKeyInFlightError, IdempotencyKeyReusedError, type BankError } from './errors.js';
import {
  accountUpdates,
  applyPostings,
  decideTransfer,
  isSameRequest,
  type AccountState,
  type AccountStates,
  type AccountUpdate,
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
}

export type TransferOutcome = { ok: true; transfer: TransferRecord; replayed: boolean } | { ok: false; error: BankError };

export interface TransferBatchDecision {
  /** One outcome per item, same order. */
  outcomes: TransferOutcome[];
  /** Accepted transfers in decision order (outbox and ledger rows follow it). */
  plans: TransferPlan[];
  /** Final balance of every account the plans touched (empty when nothing was accepted). */
  updates: AccountUpdate[];
}

/** Identity of an idempotent request: the key is scoped per sender. */
export function idempotencyScope(request: Pick<TransferRequest, 'senderAccountId' | 'idempotencyKey'>): string {
  // A UUID never contains a newline, so the pair cannot be ambiguous.
  return `${request.senderAccountId}\n${request.idempotencyKey}`;
}

/**
 * What a request gets when a request with the same (sender, key) was being
 * executed at the same time: after a completed transfer exactly what the
 * database would answer (replay for the same request, REUSED for another);
 * after anything else IN_FLIGHT, as for any concurrent duplicate (a failed
 * outcome is not stored, so the caller may retry and execute it then).
 */
export function duplicateOutcome(first: TransferOutcome, request: TransferRequest): TransferOutcome {
  if (!first.ok) return { ok: false, error: new IdempotencyKeyInFlightError() };
  if (!isSameRequest(first.transfer, request)) return { ok: false, error: new IdempotencyKeyReusedError('idempotency_key') };
  return { ok: true, transfer: first.transfer, replayed: true };
}

/**
 * Decides every item in order over the locked states. `locked` holds the
 * rows as read under FOR UPDATE; they are not modified. `newIdentity` is
 * called once per transfer that is actually decided (ids and time stay the
 * caller's choice, so this function is deterministic).
 */
export function decideTransferBatch(
  items: readonly TransferBatchItem[],
  locked: AccountStates,
  newIdentity: () => TransferIdentity,
): TransferBatchDecision {
  const working = new Map(locked);
  const plans: TransferPlan[] = [];
  const firstByScope = new Map<string, number>();
  const outcomes: TransferOutcome[] = [];
  for (const [index, item] of items.entries()) {
    const scope = idempotencyScope(item.request);
    const first = firstByScope.get(scope);
    if (first !== undefined) {
      // The same key twice in one batch: the advisory lock is re-entrant
      // within a session, so only this check keeps the second from executing.
      outcomes.push(duplicateOutcome(outcomes[first]!, item.request));
      continue;
    }
    firstByScope.set(scope, index);
    outcomes.push(decideOne(item, working, plans, newIdentity));
  }
  return { outcomes, plans, updates: plans.length > 0 ? accountUpdates(locked, plans) : [] };
}

function decideOne(
  item: TransferBatchItem,
  working: Map<string, AccountState>,
  plans: TransferPlan[],
  newIdentity: () => TransferIdentity,
): TransferOutcome {
  if (!item.keyLocked) return { ok: false, error: new IdempotencyKeyInFlightError() };
  if (item.existing) {
    if (!isSameRequest(item.existing, item.request)) return { ok: false, error: new IdempotencyKeyReusedError('idempotency_key') };
    return { ok: true, transfer: item.existing, replayed: true };
  }
  const decision = decideTransfer(item.request, newIdentity(), working);
  if (!decision.ok) return { ok: false, error: decision.error };
  applyPostings(working, decision.plan.postings);
  plans.push(decision.plan);
  return { ok: true, transfer: decision.plan.transfer, replayed: false };
}
