// Refunds of top-ups to the card: REST body <-> card adapter messages.
import { TopUpRefundStatus, type RefundTopUpRequest, type TopUpRefund } from '@wallet/contracts/card-adapter';
import { canonicalUuid, fromMoney, toIsoTimestamp, toMoney, UnexpectedUpstreamResponseError } from './common.js';

/** Body of POST /topups/{topUpId}/refund (already validated against RefundTopUpRequest). */
export interface RefundTopUpBody {
  amount?: string;
}

/** The TopUpRefund schema of openapi.yaml. */
export interface TopUpRefundResource {
  id: string;
  topUpId: string;
  accountId: string;
  amount: string;
  currency: string;
  status: 'succeeded' | 'pending' | 'failed';
  failureReason?: string;
  failureMessage?: string;
  createdAt: string;
  initiatedBy: string;
}

const STATUS: Partial<Record<TopUpRefundStatus, TopUpRefundResource['status']>> = {
  [TopUpRefundStatus.TOP_UP_REFUND_STATUS_SUCCEEDED]: 'succeeded',
  [TopUpRefundStatus.TOP_UP_REFUND_STATUS_PENDING]: 'pending',
  [TopUpRefundStatus.TOP_UP_REFUND_STATUS_FAILED]: 'failed',
};

export function toRefundTopUpRequest(topUpId: string, body: RefundTopUpBody | undefined, idempotencyKey: string, currencyCode: string): RefundTopUpRequest {
  return {
    topUpId: canonicalUuid(topUpId),
    amount: body?.amount === undefined ? undefined : toMoney(body.amount, currencyCode),
    idempotencyKey,
  };
}

export function fromTopUpRefund(refund: TopUpRefund | undefined, what: string): TopUpRefundResource {
  if (!refund) throw new UnexpectedUpstreamResponseError(`${what}: refund missing`);
  const status = STATUS[refund.status];
  if (!status) throw new UnexpectedUpstreamResponseError(`${what}: unexpected refund status ${refund.status}`);
  const { amount, currency } = fromMoney(refund.amount, what);
  const resource: TopUpRefundResource = {
    id: refund.id,
    topUpId: refund.topUpId,
    accountId: refund.accountId,
    amount,
    currency,
    status,
    createdAt: toIsoTimestamp(refund.createdAt, what),
    initiatedBy: refund.initiatedBy,
  };
  if (refund.failureReason) resource.failureReason = refund.failureReason;
  if (refund.failureMessage) resource.failureMessage = refund.failureMessage;
  return resource;
}
