// REST <-> gRPC for holds (issue #15 F1, ADR 0015): POST /accounts/{id}/holds,
// POST /holds/{id}/capture, POST /holds/{id}/void, GET /holds/{id}. Pure.
import {
  HoldStatus,
  type CaptureHoldRequest,
  type CaptureHoldResponse,
  type CreateHoldRequest,
  type Hold,
} from '@wallet/contracts/bank';
import { canonicalUuid, fieldProblem, fromMoney, toIsoTimestamp, toMoney, UnexpectedUpstreamResponseError } from './common.js';
import { fromTransferMoneyResponse, type TransferResource } from './transfers.js';

/** Body of POST /accounts/{accountId}/holds (already validated against HoldRequest). */
export interface HoldRequestBody {
  recipientAccountId: string;
  amount: string;
  expiresAt?: string;
  description?: string;
}

/** Body of POST /holds/{holdId}/capture (optional; validated against CaptureHoldRequest). */
export interface CaptureHoldBody {
  amount?: string;
}

/** The Hold schema of openapi.yaml. */
export interface HoldResource {
  id: string;
  status: 'pending' | 'captured' | 'voided' | 'expired';
  senderAccountId: string;
  recipientAccountId: string;
  amount: string;
  currency: string;
  capturedAmount?: string;
  transferId?: string;
  description: string;
  createdAt: string;
  expiresAt: string;
  finalizedAt?: string;
  initiatedBy: string;
}

const STATUS: Partial<Record<HoldStatus, HoldResource['status']>> = {
  [HoldStatus.HOLD_STATUS_PENDING]: 'pending',
  [HoldStatus.HOLD_STATUS_CAPTURED]: 'captured',
  [HoldStatus.HOLD_STATUS_VOIDED]: 'voided',
  [HoldStatus.HOLD_STATUS_EXPIRED]: 'expired',
};

export function toCreateHoldRequest(senderAccountId: string, body: HoldRequestBody, idempotencyKey: string, currencyCode: string): CreateHoldRequest {
  let expiresAt: Date | undefined;
  if (body.expiresAt !== undefined) {
    expiresAt = new Date(body.expiresAt);
    // The schema's date-time format lets through what Date cannot hold (year 99999).
    if (Number.isNaN(expiresAt.getTime())) throw fieldProblem('body.expiresAt', 'must be an RFC 3339 date-time');
  }
  return {
    senderAccountId: canonicalUuid(senderAccountId),
    recipientAccountId: canonicalUuid(body.recipientAccountId),
    amount: toMoney(body.amount, currencyCode),
    idempotencyKey,
    description: body.description ?? '',
    expiresAt,
  };
}

export function toCaptureHoldRequest(holdId: string, body: CaptureHoldBody | undefined, currencyCode: string): CaptureHoldRequest {
  return { holdId: canonicalUuid(holdId), amount: body?.amount === undefined ? undefined : toMoney(body.amount, currencyCode) };
}

export function fromHold(hold: Hold | undefined, what: string): HoldResource {
  if (!hold) throw new UnexpectedUpstreamResponseError(`${what}: hold missing`);
  const status = STATUS[hold.status];
  if (!status) throw new UnexpectedUpstreamResponseError(`${what}: unexpected hold status ${hold.status}`);
  const { amount, currency } = fromMoney(hold.amount, what);
  const resource: HoldResource = {
    id: hold.id,
    status,
    senderAccountId: hold.senderAccountId,
    recipientAccountId: hold.recipientAccountId,
    amount,
    currency,
    description: hold.description,
    createdAt: toIsoTimestamp(hold.createdAt, what),
    expiresAt: toIsoTimestamp(hold.expiresAt, what),
    initiatedBy: hold.initiatedBy,
  };
  if (hold.capturedAmount) resource.capturedAmount = fromMoney(hold.capturedAmount, what).amount;
  if (hold.transferId) resource.transferId = hold.transferId;
  if (hold.finalizedAt) resource.finalizedAt = toIsoTimestamp(hold.finalizedAt, what);
  return resource;
}

export function fromCaptureHoldResponse(response: CaptureHoldResponse): { hold: HoldResource; transfer: TransferResource; replayed: boolean } {
  const hold = fromHold(response.hold, 'CaptureHold');
  const { transfer } = fromTransferMoneyResponse({ transfer: response.transfer, replayed: response.replayed });
  return { hold, transfer, replayed: response.replayed };
}
