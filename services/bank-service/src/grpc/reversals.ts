// ReverseTransfer (app/reversals.ts, ADR 0017). A forced reversal is audited:
// stored (bank.reversals.forced, initiated_by), one warn log line, a metric.
import type { BankServiceServer, ListReversalsResponse, Reversal } from '@wallet/contracts/bank';
import { ReversalUseCase, type ReversalPage } from '../app/reversals.js';
import type { ReversalRecord } from '../domain/reversals.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';

export function reversalToProto(reversal: ReversalRecord): Reversal {
  return {
    id: reversal.id,
    originalTransferId: reversal.transferId,
    fromAccountId: reversal.fromAccountId,
    toAccountId: reversal.toAccountId,
    amount: { amountMinor: reversal.amountMinor, currencyCode: reversal.currency },
    reason: reversal.reason,
    forced: reversal.forced,
    createdAt: reversal.createdAt,
    initiatedBy: reversal.initiatedBy ?? '',
    remaining: { amountMinor: reversal.remainingAfterMinor, currencyCode: reversal.currency },
  };
}

export function reversalPageToProto(page: ReversalPage): ListReversalsResponse {
  const { transfer } = page;
  const money = (amountMinor: bigint) => ({ amountMinor, currencyCode: transfer.currency });
  return {
    transferId: transfer.id,
    amount: money(transfer.amountMinor),
    reversed: money(transfer.reversedMinor),
    remaining: money(transfer.amountMinor - transfer.reversedMinor),
    reversals: page.reversals.map(reversalToProto),
    nextPageToken: page.nextAfterReversalId ?? '',
  };
}

export function createReversalHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'reverseTransfer' | 'listReversals'> {
  const { operations, callers, handle, logger, metrics } = deps;
  const useCase = new ReversalUseCase(operations.context);
  return {
    reverseTransfer(call, callback) {
      handle('ReverseTransfer', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const { reversal, replayed } = await useCase.reverse(request, caller);
        if (reversal.forced && !replayed) {
          metrics.reversalForced();
          logger.warn(
            {
              reversalId: reversal.id,
              transferId: reversal.transferId,
              accountId: reversal.fromAccountId,
              forcedDebtMinor: reversal.forcedDebtMinor.toString(),
              initiatedBy: reversal.initiatedBy,
            },
            'reversal forced',
          );
        }
        return { response: { reversal: reversalToProto(reversal), replayed }, outcome: replayed ? 'replayed' : 'completed' };
      });
    },
    listReversals(call, callback) {
      handle('ListReversals', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        return { response: reversalPageToProto(await useCase.listReversals(request, caller)), outcome: 'ok' };
      });
    },
  };
}
