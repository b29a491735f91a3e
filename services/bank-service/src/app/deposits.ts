// DepositMoney and GetDeposit. Both take the reference's advisory lock and
// wait for it (bounded by lock_timeout), so a lookup never overtakes a
// deposit in flight and a void and a deposit of one reference never both win.
import { randomUUID } from 'node:crypto';
import { withTransaction } from '@wallet/platform/db';
import { currentTraceparent } from '@wallet/platform/tracing';
import type pg from 'pg';
import {
  DepositReferenceVoidedError,
  IdempotencyKeyReusedError,
  isBoundFailure,
  replayedFailure,
  type BankError,
  type BoundFailureReason,
} from '../domain/errors.js';
import { depositLockKey } from '../domain/hashing.js';
import { accountUpdates, decideDeposit, isSameRequest, type DepositRecord } from '../domain/ledger.js';
import {
  checkDepositLimit,
  validateDepositReference,
  validateDepositRequest,
  type DepositMoneyInput,
  type DepositRequest,
} from '../domain/requests.js';
import { beginWithAdvisoryLock } from '../db/advisory-locks.js';
import { lockDepositContext, lookUpDeposit, writeDepositFailure, type DepositContext } from '../db/deposits.js';
import { writeDeposits } from '../db/ledger-writes.js';
import type { Attempts } from './attempts.js';
import type { MonotonicClock } from './clock.js';

export interface DepositResult {
  deposit: DepositRecord;
  replayed: boolean;
}

export type DepositLookup = { status: 'applied'; deposit: DepositRecord } | { status: 'not_found' } | { status: 'voided' };

export interface GetDepositInput {
  depositReference: string;
  voidIfAbsent: boolean;
}

export interface DepositUseCaseOptions {
  pool: pg.Pool;
  attempts: Attempts;
  clock: MonotonicClock;
  maxAmountMinor: bigint;
  settlementAccountId: string;
  newId?: () => string;
  onCommitted: () => void;
}

/** A bound business failure is returned (so the transaction commits it), then thrown. */
type DepositAnswer = DepositResult | { failure: BankError & { reason: BoundFailureReason } };

export class DepositUseCase {
  private readonly newId: () => string;

  constructor(private readonly options: DepositUseCaseOptions) {
    this.newId = options.newId ?? randomUUID;
  }

  async depositMoney(input: DepositMoneyInput): Promise<DepositResult> {
    const request = validateDepositRequest(input);
    const lockKey = depositLockKey(request.depositReference);
    // The request's span (the gRPC SERVER span), taken before the transaction's own span is active.
    const traceparent = currentTraceparent();
    const answer = await this.options.attempts.run('deposit', (markWriteSent) =>
      withTransaction(this.options.pool, beginWithAdvisoryLock(lockKey), async (client): Promise<DepositAnswer> => {
        const context = await lockDepositContext(client, {
          depositReference: request.depositReference,
          accountIds: [request.accountId, this.options.settlementAccountId],
        });
        const stored = storedAnswer(context, request);
        if (stored) return stored;
        // The limit only now: an applied deposit replays even if the limit has changed since.
        checkDepositLimit(request, { maxAmountMinor: this.options.maxAmountMinor });
        const accounts = new Map(context.accounts.map((a) => [a.id, a]));
        const createdAt = this.options.clock.next();
        const decision = decideDeposit(
          request,
          { depositId: this.newId(), createdAt, eventId: this.newId() },
          accounts,
          this.options.settlementAccountId,
        );
        markWriteSent();
        if (!decision.ok) {
          if (!isBoundFailure(decision.error)) throw decision.error;
          // Executed and failed: the reference is bound to this answer (and void).
          const { reason, metadata } = decision.error;
          await writeDepositFailure(client, { depositReference: request.depositReference, requestHash: request.requestHash, reason, metadata, at: createdAt });
          return { failure: decision.error };
        }
        await writeDeposits(client, [decision.plan], accountUpdates(accounts, [decision.plan]), createdAt, [traceparent]);
        return { deposit: decision.plan.deposit, replayed: false };
      }),
    );
    if ('failure' in answer) throw answer.failure;
    if (!answer.replayed) this.options.onCommitted();
    return answer;
  }

  /**
   * The deposit applied with this reference, NOT_FOUND, or VOIDED; with
   * voidIfAbsent a reference never applied is voided first, so VOIDED is
   * proof that it never credits anything.
   */
  async getDeposit(input: GetDepositInput): Promise<DepositLookup> {
    const depositReference = validateDepositReference(input.depositReference);
    const found = await this.options.attempts.run('deposit_lookup', () =>
      withTransaction(this.options.pool, beginWithAdvisoryLock(depositLockKey(depositReference)), (client) =>
        lookUpDeposit(client, { depositReference, voidIfAbsent: input.voidIfAbsent, at: this.options.clock.next() }),
      ),
    );
    if (found.deposit) return { status: 'applied', deposit: found.deposit };
    return found.voided ? { status: 'voided' } : { status: 'not_found' };
  }
}

/** The answer already bound to the reference, if any (thrown errors roll back: nothing to write). */
function storedAnswer(context: DepositContext, request: DepositRequest): DepositResult | undefined {
  if (context.existing) {
    if (!isSameRequest(context.existing, request)) throw new IdempotencyKeyReusedError('deposit_reference');
    return { deposit: context.existing, replayed: true };
  }
  if (!context.voided) return undefined;
  const { failure } = context.voided;
  if (!failure) throw new DepositReferenceVoidedError();
  if (!isSameRequest(failure, request)) throw new IdempotencyKeyReusedError('deposit_reference');
  throw replayedFailure(failure.reason, failure.metadata);
}
