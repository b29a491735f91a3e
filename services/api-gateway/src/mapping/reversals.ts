// REST <-> gRPC for reversals (POST /transfers/{id}/reverse) and the ledger
// check (GET /admin/ledger/verify), issue #15 F3.
import type { ReverseTransferRequest, ReverseTransferResponse, VerifyLedgerRequest, VerifyLedgerResponse } from '@wallet/contracts/bank';
import { canonicalUuid, fromMoney, toIsoTimestamp, toMoney, UnexpectedUpstreamResponseError } from './common.js';

/** Body of POST /transfers/{transferId}/reverse (already validated against ReversalRequest). */
export interface ReversalRequestBody {
  amount?: string;
  reason: string;
  force?: boolean;
}

/** The Reversal schema of openapi.yaml. */
export interface ReversalResource {
  id: string;
  originalTransferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: string;
  currency: string;
  reason: string;
  forced: boolean;
  remaining: string;
  createdAt: string;
  initiatedBy: string;
}

export function toReverseTransferRequest(transferId: string, body: ReversalRequestBody, idempotencyKey: string, currencyCode: string): ReverseTransferRequest {
  return {
    transferId: canonicalUuid(transferId),
    amount: body.amount === undefined ? undefined : toMoney(body.amount, currencyCode),
    reason: body.reason,
    idempotencyKey,
    force: body.force ?? false,
  };
}

export function fromReverseTransferResponse(response: ReverseTransferResponse): { reversal: ReversalResource; replayed: boolean } {
  const r = response.reversal;
  if (!r) throw new UnexpectedUpstreamResponseError('ReverseTransfer: reversal missing');
  const { amount, currency } = fromMoney(r.amount, 'ReverseTransfer');
  return {
    reversal: {
      id: r.id,
      originalTransferId: r.originalTransferId,
      fromAccountId: r.fromAccountId,
      toAccountId: r.toAccountId,
      amount,
      currency,
      reason: r.reason,
      forced: r.forced,
      remaining: fromMoney(r.remaining, 'ReverseTransfer').amount,
      createdAt: toIsoTimestamp(r.createdAt, 'ReverseTransfer'),
      initiatedBy: r.initiatedBy,
    },
    replayed: response.replayed,
  };
}

export interface LedgerVerifyQuery {
  accountId?: string;
  after?: string;
  limit?: number;
}

/** The LedgerVerification schema of openapi.yaml. */
export interface LedgerVerificationResource {
  ok: boolean;
  accountsChecked: number;
  entriesChecked: number;
  firstBreak?: { accountId: string; entryId: string; reason: string };
  next?: string;
}

export function toVerifyLedgerRequest(query: LedgerVerifyQuery): VerifyLedgerRequest {
  return {
    accountId: query.accountId === undefined ? '' : canonicalUuid(query.accountId),
    afterAccountId: query.after === undefined ? '' : canonicalUuid(query.after),
    accountsMax: query.limit ?? 0,
  };
}

export function fromVerifyLedgerResponse(response: VerifyLedgerResponse): LedgerVerificationResource {
  const resource: LedgerVerificationResource = {
    ok: response.ok,
    // Bounded by the request's limit (at most 100000 accounts) and the bank's entry budget: exact as a JSON number.
    accountsChecked: Number(response.accountsChecked),
    entriesChecked: Number(response.entriesChecked),
  };
  if (response.firstBreak) {
    resource.firstBreak = { accountId: response.firstBreak.accountId, entryId: response.firstBreak.entryId.toString(), reason: response.firstBreak.reason };
  }
  if (response.nextAfterAccountId) resource.next = response.nextAfterAccountId;
  return resource;
}
