// REST <-> gRPC for reversals (POST /transfers/{id}/reverse, GET /transfers/{id}/reversals) and the ledger
// check (GET /admin/ledger/verify), issue #15 F3.
import type {
  ListReversalsRequest,
  ListReversalsResponse,
  Reversal,
  ReverseTransferRequest,
  ReverseTransferResponse,
  VerifyLedgerRequest,
  VerifyLedgerResponse,
} from '@wallet/contracts/bank';
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

function fromReversal(r: Reversal, rpc: string): ReversalResource {
  const { amount, currency } = fromMoney(r.amount, rpc);
  return {
    id: r.id,
    originalTransferId: r.originalTransferId,
    fromAccountId: r.fromAccountId,
    toAccountId: r.toAccountId,
    amount,
    currency,
    reason: r.reason,
    forced: r.forced,
    remaining: fromMoney(r.remaining, rpc).amount,
    createdAt: toIsoTimestamp(r.createdAt, rpc),
    initiatedBy: r.initiatedBy,
  };
}

export function fromReverseTransferResponse(response: ReverseTransferResponse): { reversal: ReversalResource; replayed: boolean } {
  if (!response.reversal) throw new UnexpectedUpstreamResponseError('ReverseTransfer: reversal missing');
  return { reversal: fromReversal(response.reversal, 'ReverseTransfer'), replayed: response.replayed };
}

/** Query of GET /transfers/{transferId}/reversals (already validated). */
export interface ReversalListQuery {
  limit?: number;
  cursor?: string;
}

/** The ReversalPage schema of openapi.yaml. */
export interface ReversalPageResource {
  transferId: string;
  amount: string;
  reversed: string;
  remaining: string;
  currency: string;
  items: ReversalResource[];
  nextCursor: string | null;
}

export function toListReversalsRequest(transferId: string, query: ReversalListQuery): ListReversalsRequest {
  // The bank's page token is opaque here: passed through, its own INVALID_ARGUMENT on page_token is 422 invalid-cursor.
  return { transferId: canonicalUuid(transferId), pageSize: query.limit ?? 0, pageToken: query.cursor ?? '' };
}

export function fromListReversalsResponse(response: ListReversalsResponse): ReversalPageResource {
  const { amount, currency } = fromMoney(response.amount, 'ListReversals');
  return {
    transferId: response.transferId,
    amount,
    reversed: fromMoney(response.reversed, 'ListReversals').amount,
    remaining: fromMoney(response.remaining, 'ListReversals').amount,
    currency,
    items: response.reversals.map((r) => fromReversal(r, 'ListReversals')),
    nextCursor: response.nextPageToken === '' ? null : response.nextPageToken,
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
