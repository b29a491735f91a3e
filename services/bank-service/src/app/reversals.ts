// ReverseTransfer (ADR 0017): who may (the recipient's owner or admin; force
// is admin only), then one transaction: the original transfer locked FOR
// UPDATE (every reversal of one transfer in turn, so they never exceed it),
// the reversal or refusal already bound to the key (replay or key reuse), both
// accounts locked in id order, the pure decision, one write (the reversal, or
// the refusal bound to the key). ListReversals: a transfer's reversals to its
// parties' owners, support and admin.
import { withTransaction } from '@wallet/platform/db';
import { hasRole } from '@wallet/platform/auth';
import { currentTraceparent } from '@wallet/platform/tracing';
import { checkMayMoveMoney, type Principal } from '../domain/access.js';
import { IdempotencyKeyReusedError, InvalidArgumentError, RoleForbiddenError, TransferNotFoundError, type BankError } from '../domain/errors.js';
import { InvariantViolation, isSameRequest } from '../domain/ledger.js';
import type { TransferToReverse } from '../domain/reversals.js';
import {
  decideReversal,
  isReversalBoundFailure,
  replayedReversalFailure,
  validateListReversalsRequest,
  validateReversalRequest,
  type ListReversalsInput,
  type ReversalRecord,
  type ReversalRequest,
  type ReverseTransferInput,
} from '../domain/reversals.js';
import {
  findReversalFailure,
  findTransferForReversals,
  findTransferParties,
  listReversalsOfTransfer,
  reversalExists,
  lockReversalAccounts,
  lockTransferForReversal,
  writeReversal,
  writeReversalFailure,
} from '../db/reversals.js';
import type { Queryable } from '../db/ledger-writes.js';
import type { FeatureContext } from './operations.js';

export interface ReversalResult {
  reversal: ReversalRecord;
  replayed: boolean;
}

export interface ReversalPage {
  transfer: TransferToReverse;
  reversals: ReversalRecord[];
  /** The last reversal's id when more may follow. */
  nextAfterReversalId: string | null;
}

/** A refusal bound inside the transaction: committed, then thrown. */
type ReversalAnswer = ReversalResult | { failure: BankError };

export class ReversalUseCase {
  constructor(private readonly context: FeatureContext) {}

  async reverse(input: ReverseTransferInput, caller: Principal): Promise<ReversalResult> {
    checkMayMoveMoney(caller);
    const request = validateReversalRequest(input, { maxAmountMinor: this.context.limits.maxTransferAmountMinor }, caller.subject);
    if (request.force && !hasRole(caller, 'admin')) throw new RoleForbiddenError('force a reversal');
    await this.checkMayReverse(caller, request.transferId);
    // The request's span, taken before the transaction's own span is active.
    const traceparent = currentTraceparent();
    const answer = await this.context.attempts.run('reversal', (markWriteSent) =>
      withTransaction(this.context.pool, 'BEGIN', (client) => this.reverseLocked(client, request, traceparent, markWriteSent)),
    );
    if ('failure' in answer) throw answer.failure;
    if (!answer.replayed) this.context.onCommitted();
    return answer;
  }

  /** ListReversals: a page of the transfer's reversals, to its parties' owners, support and admin. */
  async listReversals(input: ListReversalsInput, caller: Principal): Promise<ReversalPage> {
    const request = validateListReversalsRequest(input);
    const { pool, attempts } = this.context;
    const transfer = await attempts.run('reversal_list', () => findTransferForReversals(pool, request.transferId));
    if (!transfer || !(await this.mayRead(transfer, caller))) throw new TransferNotFoundError(request.transferId);
    const after = request.afterReversalId;
    if (after !== null && !(await attempts.run('reversal_list', () => reversalExists(pool, { transferId: transfer.id, reversalId: after })))) {
      throw new InvalidArgumentError([{ field: 'page_token', description: 'is not a page token of this transfer\'s reversals' }]);
    }
    // One more than the page: tells whether a next page exists without a second query.
    const rows = await attempts.run('reversal_list', () => listReversalsOfTransfer(pool, { transferId: transfer.id, afterReversalId: after, limit: request.pageSize + 1 }));
    const reversals = rows.slice(0, request.pageSize);
    const more = rows.length > request.pageSize;
    return { transfer, reversals, nextAfterReversalId: more ? (reversals.at(-1)?.id ?? null) : null };
  }

  private async mayRead(transfer: TransferToReverse, caller: Principal): Promise<boolean> {
    if (hasRole(caller, 'admin') || hasRole(caller, 'support')) return true;
    for (const accountId of [transfer.senderAccountId, transfer.recipientAccountId]) {
      const owner = await this.context.owners.lookUp(accountId);
      if (owner?.ownerId === caller.subject) return true;
    }
    return false;
  }

  /**
   * The recipient's owner or admin. The sender's owner knows the transfer
   * exists, so it hears ROLE_FORBIDDEN; anyone else hears "not found".
   */
  private async checkMayReverse(caller: Principal, transferId: string): Promise<void> {
    const parties = await this.context.attempts.run('reversal', () => findTransferParties(this.context.pool, transferId));
    if (!parties) throw new TransferNotFoundError(transferId);
    if (hasRole(caller, 'admin')) return;
    const recipientOwner = await this.context.owners.lookUp(parties.recipientAccountId);
    if (recipientOwner?.ownerId === caller.subject) return;
    const senderOwner = await this.context.owners.lookUp(parties.senderAccountId);
    if (senderOwner?.ownerId === caller.subject) throw new RoleForbiddenError('reverse a transfer it sent (only its recipient or an admin may)');
    throw new TransferNotFoundError(transferId);
  }

  private async reverseLocked(client: Queryable, request: ReversalRequest, traceparent: string | null, markWriteSent: () => void): Promise<ReversalAnswer> {
    const scope = { transferId: request.transferId, idempotencyKey: request.idempotencyKey };
    const locked = await lockTransferForReversal(client, scope);
    if (!locked) throw new TransferNotFoundError(request.transferId);
    if (locked.existing) {
      if (!isSameRequest(locked.existing, request)) throw new IdempotencyKeyReusedError('idempotency_key');
      return { reversal: locked.existing, replayed: true };
    }
    const refused = await findReversalFailure(client, scope);
    if (refused) {
      if (!isSameRequest(refused, request)) throw new IdempotencyKeyReusedError('idempotency_key');
      throw replayedReversalFailure(refused, request.transferId);
    }
    const { transfer } = locked;
    const accounts = await lockReversalAccounts(client, [transfer.senderAccountId, transfer.recipientAccountId].sort());
    const from = accounts.get(transfer.recipientAccountId);
    const to = accounts.get(transfer.senderAccountId);
    if (!from || !to) throw new InvariantViolation(`accounts of transfer ${transfer.id} missing`);
    const createdAt = this.context.clock.next();
    const decision = decideReversal(request, transfer, { from, to }, {
      reversalId: this.context.newId(),
      createdAt,
      eventIds: [this.context.newId(), this.context.newId()],
    });
    if (!decision.ok) {
      if (!isReversalBoundFailure(decision.error)) throw decision.error;
      const { reason, metadata } = decision.error;
      markWriteSent();
      await writeReversalFailure(client, { ...scope, failure: { reason, requestHash: request.requestHash, metadata: { ...metadata } }, at: createdAt });
      return { failure: decision.error };
    }
    markWriteSent();
    await writeReversal(client, decision.plan, traceparent);
    return { reversal: decision.plan.reversal, replayed: false };
  }
}
