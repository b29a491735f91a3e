import { TransferStatus, type TransferMoneyRequest, type TransferMoneyResponse } from '@wallet/contracts/bank';
import { canonicalUuid, fromMoney, toIsoTimestamp, toMoney, UnexpectedUpstreamResponseError } from './common.js';

/** Body of POST /accounts/{accountId}/transfers (already validated against TransferRequest). */
export interface TransferRequestBody {
  recipientAccountId: string;
  amount: string;
  description?: string;
}

/** The Transfer schema of openapi.yaml. */
export interface TransferResource {
  id: string;
  senderAccountId: string;
  recipientAccountId: string;
  amount: string;
  currency: string;
  status: 'completed';
  description?: string;
  createdAt: string;
}

export function toTransferMoneyRequest(
  senderAccountId: string,
  body: TransferRequestBody,
  idempotencyKey: string,
  currencyCode: string,
): TransferMoneyRequest {
  return {
    senderAccountId: canonicalUuid(senderAccountId),
    recipientAccountId: canonicalUuid(body.recipientAccountId),
    amount: toMoney(body.amount, currencyCode),
    idempotencyKey,
    description: body.description ?? '',
  };
}

export function fromTransferMoneyResponse(response: TransferMoneyResponse): { transfer: TransferResource; replayed: boolean } {
  const t = response.transfer;
  if (!t) throw new UnexpectedUpstreamResponseError('TransferMoney: transfer missing');
  if (t.status !== TransferStatus.TRANSFER_STATUS_COMPLETED) {
    throw new UnexpectedUpstreamResponseError(`TransferMoney: unexpected status ${t.status}`);
  }
  const { amount, currency } = fromMoney(t.amount, 'TransferMoney');
  const transfer: TransferResource = {
    id: t.id,
    senderAccountId: t.senderAccountId,
    recipientAccountId: t.recipientAccountId,
    amount,
    currency,
    status: 'completed',
    createdAt: toIsoTimestamp(t.createdAt, 'TransferMoney'),
  };
  if (t.description) transfer.description = t.description;
  return { transfer, replayed: response.replayed };
}
