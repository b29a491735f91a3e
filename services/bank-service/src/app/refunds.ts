// RefundDeposit, GetRefund and CancelRefund (ADR 0018). Each takes the refund
// reference's advisory lock and waits for it (bounded by lock_timeout), like
// deposits: a lookup never overtakes a refund in flight, a void and a refund
// of one reference never both win, and a cancel runs after the debit.
import { withTransaction } from '@wallet/platform/db';
import { currentTraceparent } from '@wallet/platform/tracing';
import {
  AccountNotFoundError,
  CurrencyMismatchError,
  DepositNotFoundError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  RefundExceedsDepositError,
  RefundNotCancellableError,
  RefundReferenceVoidedError,
  type BankError,
} from '../domain/errors.js';
import {
  decideCancel,
  decideRefund,
  isRefundBoundFailure,
  refundIdOf,
  refundLockKey,
  validateRefundDepositRequest,
  validateRefundReference,
  type RefundBoundFailure,
  type RefundDepositInput,
  type RefundRecord,
  type RefundRequest,
} from '../domain/refunds.js';
import { beginWithAdvisoryLock } from '../db/advisory-locks.js';
import {
  findDepositOfTopUp,
  findRefundByReference,
  lockRefundAccounts,
  refundedOfDeposit,
  voidRefundReference,
  writeRefund,
  writeRefundCancel,
  writeRefundFailure,
  type StoredRefundAnswer,
} from '../db/refunds.js';
import type { Queryable } from '../db/ledger-writes.js';
import type { FeatureContext } from './operations.js';

export interface RefundResult {
  refund: RefundRecord;
  replayed: boolean;
}

export type RefundLookup = { status: 'applied'; refund: RefundRecord } | { status: 'not_found' } | { status: 'voided' };

type RefundAnswer = RefundResult | { failure: BankError };

/** The stored answer of a failed RefundDeposit, rebuilt for a replay (metadata.replayed = "true"). */
function replayedRefundFailure(reason: RefundBoundFailure, metadata: Record<string, string>, topUpId: string): BankError {
  const m = (key: string) => metadata[key] ?? '';
  const errors: Record<RefundBoundFailure, () => BankError> = {
    ACCOUNT_NOT_FOUND: () => new AccountNotFoundError(m('accountId'), 'account'),
    CURRENCY_MISMATCH: () => new CurrencyMismatchError(m('accountId'), m('accountCurrency'), m('requestedCurrency')),
    INSUFFICIENT_FUNDS: () => new InsufficientFundsError(m('accountId')),
    DEPOSIT_NOT_FOUND: () => new DepositNotFoundError(m('topUpId') || topUpId),
    REFUND_EXCEEDS_DEPOSIT: () => new RefundExceedsDepositError(m('topUpId') || topUpId, m('remaining')),
  };
  const error = errors[reason]();
  error.metadata.replayed = 'true';
  return error;
}

/** The answer already bound to the reference, if any (thrown errors roll back: nothing to write). */
function storedAnswer(stored: StoredRefundAnswer, request: RefundRequest): RefundResult | undefined {
  if (stored.existing) {
    if (stored.existing.requestHash !== request.requestHash) throw new IdempotencyKeyReusedError('refund_reference');
    return { refund: stored.existing, replayed: true };
  }
  if (!stored.voided) return undefined;
  const { failure } = stored.voided;
  if (!failure) throw new RefundReferenceVoidedError();
  if (failure.requestHash !== request.requestHash) throw new IdempotencyKeyReusedError('refund_reference');
  throw replayedRefundFailure(failure.reason, failure.metadata, request.topUpId);
}

export class RefundUseCase {
  constructor(private readonly context: FeatureContext) {}

  async refundDeposit(input: RefundDepositInput): Promise<RefundResult> {
    const request = validateRefundDepositRequest(input, { maxAmountMinor: this.context.limits.maxDepositAmountMinor });
    const traceparent = currentTraceparent();
    const { pool, attempts } = this.context;
    const answer = await attempts.run('refund', (markWriteSent) =>
      withTransaction(pool, beginWithAdvisoryLock(refundLockKey(request.refundReference)), async (client): Promise<RefundAnswer> => {
        const stored = storedAnswer(await findRefundByReference(client, request.refundReference), request);
        if (stored) return stored;
        markWriteSent();
        return this.applyRefund(client, request, traceparent);
      }),
    );
    if ('failure' in answer) throw answer.failure;
    if (!answer.replayed) this.context.onCommitted();
    return answer;
  }

  /** Decides under the account locks; a business failure is bound to the reference (committed), then thrown. */
  private async applyRefund(client: Queryable, request: RefundRequest, traceparent: string | null): Promise<RefundAnswer> {
    const { settlementAccountId, clock, newId } = this.context;
    const deposit = await findDepositOfTopUp(client, request.topUpId);
    const accounts = deposit ? await lockRefundAccounts(client, [deposit.accountId, settlementAccountId]) : new Map();
    const refundedMinor = deposit ? await refundedOfDeposit(client, deposit.id) : 0n;
    const createdAt = clock.next();
    const decision = decideRefund(request, deposit ? { ...deposit, refundedMinor } : undefined, accounts, settlementAccountId, {
      refundId: refundIdOf(request.refundReference, newId),
      eventId: newId(),
      createdAt,
    });
    if (!decision.ok) {
      if (!isRefundBoundFailure(decision.error)) throw decision.error;
      const { reason, metadata } = decision.error;
      await writeRefundFailure(client, { refundReference: request.refundReference, requestHash: request.requestHash, reason, metadata, at: createdAt });
      return { failure: decision.error };
    }
    await writeRefund(client, decision.plan, accounts, traceparent);
    return { refund: decision.plan.refund, replayed: false };
  }

  /** The refund with this reference, NOT_FOUND, or VOIDED; voidIfAbsent voids a reference never applied (proof it never debits). */
  async getRefund(input: { refundReference: string; voidIfAbsent: boolean }): Promise<RefundLookup> {
    const refundReference = validateRefundReference(input.refundReference);
    const { pool, attempts, clock } = this.context;
    return attempts.run('refund_lookup', () =>
      withTransaction(pool, beginWithAdvisoryLock(refundLockKey(refundReference)), async (client): Promise<RefundLookup> => {
        const stored = await findRefundByReference(client, refundReference);
        if (stored.existing) return { status: 'applied', refund: stored.existing };
        if (stored.voided) return { status: 'voided' };
        if (!input.voidIfAbsent) return { status: 'not_found' };
        await voidRefundReference(client, refundReference, clock.next());
        return { status: 'voided' };
      }),
    );
  }

  /** Credits a debited refund back (the card refund failed for good); a cancelled one answers again (replayed). */
  async cancelRefund(input: { refundReference: string }): Promise<RefundResult> {
    const refundReference = validateRefundReference(input.refundReference);
    const traceparent = currentTraceparent();
    const { pool, attempts, clock, newId, settlementAccountId } = this.context;
    const result = await attempts.run('refund_cancel', (markWriteSent) =>
      withTransaction(pool, beginWithAdvisoryLock(refundLockKey(refundReference)), async (client): Promise<RefundResult> => {
        const { existing } = await findRefundByReference(client, refundReference);
        if (!existing) throw new RefundNotCancellableError(refundReference, 'not_found');
        if (existing.status === 'cancelled') return { refund: existing, replayed: true };
        const accounts = await lockRefundAccounts(client, [existing.accountId, settlementAccountId]);
        const plan = decideCancel(existing, accounts, settlementAccountId, { eventId: newId(), cancelledAt: clock.next() });
        markWriteSent();
        await writeRefundCancel(client, plan, accounts, traceparent);
        return { refund: plan.refund, replayed: false };
      }),
    );
    if (!result.replayed) this.context.onCommitted();
    return result;
  }
}
