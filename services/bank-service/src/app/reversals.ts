// ReverseTransfer (ADR 0017): who may (the recipient's owner or admin; force
// is admin only), then one transaction: the original transfer locked FOR
// UPDATE (every reversal of one transfer in turn, so they never exceed it),
// the reversal already bound to the key (replay or key reuse), both accounts
// locked in id order, the pure decision, one write.
import { withTransaction } from '@wallet/platform/db';
import { hasRole } from '@wallet/platform/auth';
import { currentTraceparent } from '@wallet/platform/tracing';
import { checkMayMoveMoney, type Principal } from '../domain/access.js';
import { IdempotencyKeyReusedError, RoleForbiddenError, TransferNotFoundError } from '../domain/errors.js';
import { InvariantViolation, isSameRequest } from '../domain/ledger.js';
import { decideReversal, validateReversalRequest, type ReversalRecord, type ReversalRequest, type ReverseTransferInput } from '../domain/reversals.js';
import { findTransferParties, lockReversalAccounts, lockTransferForReversal, writeReversal } from '../db/reversals.js';
import type { Queryable } from '../db/ledger-writes.js';
import type { FeatureContext } from './operations.js';

export interface ReversalResult {
  reversal: ReversalRecord;
  replayed: boolean;
}

export class ReversalUseCase {
  constructor(private readonly context: FeatureContext) {}

  async reverse(input: ReverseTransferInput, caller: Principal): Promise<ReversalResult> {
    checkMayMoveMoney(caller);
    const request = validateReversalRequest(input, { maxAmountMinor: this.context.limits.maxTransferAmountMinor }, caller.subject);
    if (request.force && !hasRole(caller, 'admin')) throw new RoleForbiddenError('force a reversal');
    await this.checkMayReverse(caller, request.transferId);
    // The request's span, taken before the transaction's own span is active.
    const traceparent = currentTraceparent();
    const result = await this.context.attempts.run('reversal', (markWriteSent) =>
      withTransaction(this.context.pool, 'BEGIN', (client) => this.reverseLocked(client, request, traceparent, markWriteSent)),
    );
    if (!result.replayed) this.context.onCommitted();
    return result;
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

  private async reverseLocked(client: Queryable, request: ReversalRequest, traceparent: string | null, markWriteSent: () => void): Promise<ReversalResult> {
    const locked = await lockTransferForReversal(client, { transferId: request.transferId, idempotencyKey: request.idempotencyKey });
    if (!locked) throw new TransferNotFoundError(request.transferId);
    if (locked.existing) {
      if (!isSameRequest(locked.existing, request)) throw new IdempotencyKeyReusedError('idempotency_key');
      return { reversal: locked.existing, replayed: true };
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
    if (!decision.ok) throw decision.error;
    markWriteSent();
    await writeReversal(client, decision.plan, traceparent);
    return { reversal: decision.plan.reversal, replayed: false };
  }
}
