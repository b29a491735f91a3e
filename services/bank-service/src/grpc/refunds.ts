// RefundDeposit, GetRefund, CancelRefund: card adapter only (callers.ts). The
// adapter verified the user and authorised the refund; the bank records who
// asked (initiated_by) and guards the money (ADR 0018).
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import {
  RefundLookupStatus,
  RefundStatus,
  type BankServiceServer,
  type CancelRefundRequest,
  type CancelRefundResponse,
  type GetRefundRequest,
  type GetRefundResponse,
  type Refund,
  type RefundDepositRequest,
  type RefundDepositResponse,
} from '@wallet/contracts/bank';
import { RefundUseCase, type RefundLookup } from '../app/refunds.js';
import type { RefundRecord } from '../domain/refunds.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';

export function refundToProto(refund: RefundRecord): Refund {
  return {
    id: refund.id,
    depositId: refund.depositId,
    topUpId: refund.topUpId,
    accountId: refund.accountId,
    amount: { amountMinor: refund.amountMinor, currencyCode: refund.currency },
    refundReference: refund.refundReference,
    status: refund.status === 'debited' ? RefundStatus.REFUND_STATUS_DEBITED : RefundStatus.REFUND_STATUS_CANCELLED,
    createdAt: refund.createdAt,
    initiatedBy: refund.initiatedBy ?? '',
  };
}

const LOOKUP_STATUS: Record<RefundLookup['status'], RefundLookupStatus> = {
  applied: RefundLookupStatus.REFUND_LOOKUP_STATUS_APPLIED,
  not_found: RefundLookupStatus.REFUND_LOOKUP_STATUS_NOT_FOUND,
  voided: RefundLookupStatus.REFUND_LOOKUP_STATUS_VOIDED,
};

export function createRefundHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'refundDeposit' | 'getRefund' | 'cancelRefund'> {
  const { handle } = deps;
  const refunds = new RefundUseCase(deps.operations.context);
  return {
    refundDeposit(call: ServerUnaryCall<RefundDepositRequest, RefundDepositResponse>, callback: sendUnaryData<RefundDepositResponse>) {
      handle('RefundDeposit', call, callback, async (request) => {
        const result = await refunds.refundDeposit(request);
        return { response: { refund: refundToProto(result.refund), replayed: result.replayed }, outcome: result.replayed ? 'replayed' : 'completed' };
      });
    },
    getRefund(call: ServerUnaryCall<GetRefundRequest, GetRefundResponse>, callback: sendUnaryData<GetRefundResponse>) {
      handle('GetRefund', call, callback, async (request) => {
        const lookup = await refunds.getRefund({ refundReference: request.refundReference, voidIfAbsent: request.voidIfAbsent });
        return {
          response: { status: LOOKUP_STATUS[lookup.status], refund: lookup.status === 'applied' ? refundToProto(lookup.refund) : undefined },
          outcome: lookup.status,
        };
      });
    },
    cancelRefund(call: ServerUnaryCall<CancelRefundRequest, CancelRefundResponse>, callback: sendUnaryData<CancelRefundResponse>) {
      handle('CancelRefund', call, callback, async (request) => {
        const result = await refunds.cancelRefund({ refundReference: request.refundReference });
        return { response: { refund: refundToProto(result.refund), replayed: result.replayed }, outcome: result.replayed ? 'replayed' : 'cancelled' };
      });
    },
  };
}
