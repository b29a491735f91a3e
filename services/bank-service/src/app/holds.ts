// CreateHold, CaptureHold, VoidHold, GetHold (ADR 0015). CreateHold takes the
// (sender, key) advisory lock and waits for it (bounded by lock_timeout), like
// deposits: a retry never overtakes the first request. Capture and void lock
// the hold row FOR UPDATE and decide with its status under that lock, so
// exactly one of capture, void and expiry (the sweep, app/hold-expiry.ts)
// wins; then they lock both accounts in id order (the order transfers use).
import { hasRole } from '@wallet/platform/auth';
import { withTransaction } from '@wallet/platform/db';
import { currentTraceparent } from '@wallet/platform/tracing';
import type pg from 'pg';
import { checkMayMoveMoney, checkMoveFrom, needsOwnerToMove, type Principal } from '../domain/access.js';
import {
  HoldNotFoundError,
  HoldNotPendingError,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  isBoundFailure,
  replayedFailure,
  RoleForbiddenError,
  type BankError,
} from '../domain/errors.js';
import {
  captureAmount,
  decideCapture,
  decideCreateHold,
  decideRelease,
  finalAction,
  holdAccountUpdates,
  holdLockKey,
  resolveExpiry,
  validateCaptureAmount,
  validateCreateHold,
  validateHoldId,
  type CreateHoldInput,
  type CreateHoldRequest,
  type HoldExpiryLimits,
  type HoldPlan,
  type HoldRecord,
} from '../domain/holds.js';
import type { TransferRecord } from '../domain/ledger.js';
import type { MoneyInput } from '../domain/requests.js';
import { beginWithAdvisoryLock } from '../db/advisory-locks.js';
import {
  findCaptureTransfer,
  findHold,
  findHoldOutcome,
  finalizeHolds,
  insertCaptureTransfer,
  insertHold,
  insertHoldOutbox,
  lockDueHolds,
  lockHoldAccounts,
  writeHoldAccounts,
  writeHoldFailure,
} from '../db/holds.js';
import type { FeatureContext } from './operations.js';

export const HOLD_EXPIRY_DEFAULTS: HoldExpiryLimits = { expiryDefaultMs: 7 * 24 * 3_600_000, expiryMsMax: 30 * 24 * 3_600_000 };

export interface HoldResult {
  hold: HoldRecord;
  replayed: boolean;
}

export interface CaptureResult extends HoldResult {
  transfer: TransferRecord;
}

/** A business failure decided under lock that must commit (a bound CreateHold failure, an expiry that won), then thrown. */
type Answer<T> = T | { failure: BankError };

function settle<T extends object>(answer: Answer<T>): T {
  if ('failure' in answer) throw answer.failure;
  return answer;
}

export class HoldUseCase {
  private readonly expiry: HoldExpiryLimits;

  constructor(private readonly context: FeatureContext) {
    this.expiry = {
      expiryDefaultMs: context.limits.holdExpiryDefaultMs ?? HOLD_EXPIRY_DEFAULTS.expiryDefaultMs,
      expiryMsMax: context.limits.holdExpiryMsMax ?? HOLD_EXPIRY_DEFAULTS.expiryMsMax,
    };
  }

  async createHold(input: CreateHoldInput, caller: Principal): Promise<HoldResult> {
    checkMayMoveMoney(caller);
    const request = validateCreateHold(input, { maxAmountMinor: this.context.limits.maxTransferAmountMinor }, caller.subject);
    if (needsOwnerToMove(caller)) checkMoveFrom(caller, request.senderAccountId, await this.context.owners.lookUp(request.senderAccountId));
    const traceparent = currentTraceparent();
    const answer = await this.context.attempts.run('hold', (markWriteSent) =>
      withTransaction(this.context.pool, beginWithAdvisoryLock(holdLockKey(request.senderAccountId, request.idempotencyKey)), async (client) => {
        const stored = await findHoldOutcome(client, request.senderAccountId, request.idempotencyKey);
        if (stored.hold || stored.failure) {
          if ((stored.hold ?? stored.failure)!.requestHash !== request.requestHash) throw new IdempotencyKeyReusedError('idempotency_key');
          if (stored.failure) throw replayedFailure(stored.failure.reason, stored.failure.metadata);
          return { hold: stored.hold!, replayed: true };
        }
        markWriteSent();
        return this.executeCreate(client, request, traceparent);
      }),
    );
    const result = settle(answer);
    if (!result.replayed) this.context.onCommitted();
    return result;
  }

  private async executeCreate(client: pg.PoolClient, request: CreateHoldRequest, traceparent: string | null): Promise<Answer<HoldResult>> {
    const accounts = await lockHoldAccounts(client, [request.senderAccountId, request.recipientAccountId]);
    const before = new Map(accounts);
    const createdAt = this.context.clock.next();
    // After the replay lookup: a retry of a hold whose asked expiry has passed still replays.
    checkExpiry(request, createdAt, this.expiry);
    const expiresAt = resolveExpiry(request, createdAt, this.expiry);
    const decision = decideCreateHold(request, { holdId: this.context.newId(), createdAt, expiresAt, eventIds: [this.context.newId(), this.context.newId()] }, accounts);
    if (!decision.ok) {
      if (!isBoundFailure(decision.error)) throw decision.error;
      const { reason, metadata } = decision.error;
      await writeHoldFailure(client, { ...request, reason, metadata, at: createdAt });
      return { failure: decision.error };
    }
    await insertHold(client, decision.plan.hold);
    await writeHoldAccounts(client, holdAccountUpdates(before, accounts), createdAt);
    await insertHoldOutbox(client, decision.plan.events.map((event) => ({ event, at: createdAt })), traceparent);
    return { hold: decision.plan.hold, replayed: false };
  }

  async captureHold(input: { holdId: string; amount: MoneyInput | undefined }, caller: Principal): Promise<CaptureResult> {
    checkMayMoveMoney(caller);
    const holdId = validateHoldId(input.holdId);
    const amount = validateCaptureAmount(input.amount);
    await this.checkMayFinalize(holdId, caller);
    const traceparent = currentTraceparent();
    const answer = await this.context.attempts.run('hold', (markWriteSent) =>
      withTransaction(this.context.pool, 'BEGIN', async (client): Promise<Answer<CaptureResult>> => {
        const hold = await findHold(client, holdId, { forUpdate: true });
        if (!hold) throw new HoldNotFoundError(holdId);
        const capturedMinor = captureAmount(hold, amount);
        const at = this.context.clock.next();
        const action = finalAction(hold, 'capture', capturedMinor, at);
        if (action.kind === 'refuse') throw action.error;
        if (action.kind === 'replay') return { hold, transfer: (await findCaptureTransfer(client, hold.transferId!))!, replayed: true };
        markWriteSent();
        if (action.kind === 'expire') return { failure: await this.expire(client, hold, at) };
        const accounts = await lockHoldAccounts(client, [hold.senderAccountId, hold.recipientAccountId]);
        const before = new Map(accounts);
        const ids = () => this.context.newId();
        const plan = decideCapture(hold, capturedMinor, { transferId: ids(), at, eventIds: [ids(), ids(), ids(), ids()] }, accounts, caller.subject);
        await writeHoldAccounts(client, holdAccountUpdates(before, accounts), at);
        await insertCaptureTransfer(client, plan.transfer, hold.id, plan.postings);
        await finalizeHolds(client, [plan.hold]);
        await insertHoldOutbox(client, plan.events.map((event) => ({ event, at })), traceparent);
        return { hold: plan.hold, transfer: plan.transfer, replayed: false };
      }),
    );
    return this.committed(answer);
  }

  async voidHold(input: { holdId: string }, caller: Principal): Promise<HoldResult> {
    checkMayMoveMoney(caller);
    const holdId = validateHoldId(input.holdId);
    await this.checkMayFinalize(holdId, caller);
    const traceparent = currentTraceparent();
    const answer = await this.context.attempts.run('hold', (markWriteSent) =>
      withTransaction(this.context.pool, 'BEGIN', async (client): Promise<Answer<HoldResult>> => {
        const hold = await findHold(client, holdId, { forUpdate: true });
        if (!hold) throw new HoldNotFoundError(holdId);
        const at = this.context.clock.next();
        const action = finalAction(hold, 'void', undefined, at);
        if (action.kind === 'refuse') throw action.error;
        if (action.kind === 'replay') return { hold, replayed: true };
        markWriteSent();
        if (action.kind === 'expire') return { failure: await this.expire(client, hold, at) };
        const plan = await this.release(client, [hold], 'voided', at, caller.subject, traceparent);
        return { hold: plan[0]!.hold, replayed: false };
      }),
    );
    return this.committed(answer);
  }

  async getHold(input: { holdId: string }, caller: Principal): Promise<HoldRecord> {
    const holdId = validateHoldId(input.holdId);
    const hold = await this.context.attempts.run('hold', () => findHold(this.context.pool, holdId, { forUpdate: false }));
    if (!hold || !(await this.mayRead(hold, caller))) throw new HoldNotFoundError(holdId);
    return hold;
  }

  /**
   * Expires due holds (the sweep): rows another sweeper or a capture holds
   * are skipped, so replicas never wait on each other. Returns how many.
   */
  async expireDue(batchSizeMax: number): Promise<number> {
    return this.context.attempts.run('hold_expiry', (markWriteSent) =>
      withTransaction(this.context.pool, 'BEGIN', async (client) => {
        const at = this.context.clock.next();
        const due = await lockDueHolds(client, at, batchSizeMax);
        if (due.length === 0) return 0;
        markWriteSent();
        await this.release(client, due, 'expired', at, null, null);
        return due.length;
      }),
    ).then((count) => {
      if (count > 0) this.context.onCommitted();
      return count;
    });
  }

  /** An overdue pending hold found by a capture or void: the expiry wins, committed, and the caller hears so. */
  private async expire(client: pg.PoolClient, hold: HoldRecord, at: Date): Promise<BankError> {
    await this.release(client, [hold], 'expired', at, null, null);
    return new HoldNotPendingError(hold.id, 'expired');
  }

  /** Releases pending holds (void or expiry) in one transaction: accounts locked in id order, then written once. */
  private async release(
    client: pg.PoolClient,
    holds: readonly HoldRecord[],
    status: 'voided' | 'expired',
    at: Date,
    initiatedBy: string | null,
    traceparent: string | null,
  ): Promise<HoldPlan[]> {
    const accounts = await lockHoldAccounts(client, holds.flatMap((h) => [h.senderAccountId, h.recipientAccountId]));
    const before = new Map(accounts);
    const plans = holds.map((hold) => decideRelease(hold, status, at, [this.context.newId(), this.context.newId()], accounts, initiatedBy));
    await writeHoldAccounts(client, holdAccountUpdates(before, accounts), at);
    await finalizeHolds(client, plans.map((p) => p.hold));
    await insertHoldOutbox(client, plans.flatMap((p) => p.events.map((event) => ({ event, at }))), traceparent);
    return plans;
  }

  private committed<T extends HoldResult>(answer: Answer<T>): T {
    if ('failure' in answer) {
      // The expiry that won was committed: wake the relay for its events.
      this.context.onCommitted();
      throw answer.failure;
    }
    if (!answer.replayed) this.context.onCommitted();
    return answer;
  }

  /**
   * Capture and void: the sender's owner or admin. The recipient's owner and
   * support see the hold but may not finalize it (403); anyone else hears
   * "not found", like for an unknown hold.
   */
  private async checkMayFinalize(holdId: string, caller: Principal): Promise<void> {
    if (!needsOwnerToMove(caller)) return;
    const hold = await this.context.attempts.run('hold', () => findHold(this.context.pool, holdId, { forUpdate: false }));
    if (!hold) throw new HoldNotFoundError(holdId);
    const sender = await this.context.owners.lookUp(hold.senderAccountId);
    if (sender?.ownerId === caller.subject) return;
    if (await this.mayRead(hold, caller)) throw new RoleForbiddenError('capture or void a hold it does not pay');
    throw new HoldNotFoundError(holdId);
  }

  /** GetHold: the sender's or recipient's owner, support, admin. */
  private async mayRead(hold: HoldRecord, caller: Principal): Promise<boolean> {
    if (hasRole(caller, 'admin') || hasRole(caller, 'support')) return true;
    for (const accountId of [hold.senderAccountId, hold.recipientAccountId]) {
      const owner = await this.context.owners.lookUp(accountId);
      if (owner?.ownerId === caller.subject) return true;
    }
    return false;
  }
}

/** expires_at as asked must still be ahead of the hold's creation and within the maximum. */
function checkExpiry(request: CreateHoldRequest, createdAt: Date, limits: HoldExpiryLimits): void {
  if (request.expiresAt === undefined) return;
  const aheadMs = request.expiresAt.getTime() - createdAt.getTime();
  if (!(aheadMs > 0)) throw new InvalidArgumentError([{ field: 'expires_at', description: 'must be in the future' }]);
  if (aheadMs > limits.expiryMsMax) throw new InvalidArgumentError([{ field: 'expires_at', description: `must be at most ${limits.expiryMsMax} ms ahead` }]);
}
