import { OperationType, type GetOperationsRequest, type GetOperationsResponse, type Operation } from '@wallet/contracts/analytics';
import { canonicalUuid, fromMoney, toIsoTimestamp, UnexpectedUpstreamResponseError } from './common.js';
import { checkOrder, clampToStore, toDate } from './time-range.js';

export type OperationTypeName =
  | 'transfer_in'
  | 'transfer_out'
  | 'topup'
  | 'hold_created'
  | 'hold_captured'
  | 'hold_voided'
  | 'hold_expired'
  | 'reversal_out'
  | 'reversal_in'
  | 'refund'
  | 'refund_cancelled';

const TYPE_TO_GRPC: Record<OperationTypeName, OperationType> = {
  transfer_in: OperationType.OPERATION_TYPE_TRANSFER_IN,
  transfer_out: OperationType.OPERATION_TYPE_TRANSFER_OUT,
  topup: OperationType.OPERATION_TYPE_TOPUP,
  hold_created: OperationType.OPERATION_TYPE_HOLD_CREATED,
  hold_captured: OperationType.OPERATION_TYPE_HOLD_CAPTURED,
  hold_voided: OperationType.OPERATION_TYPE_HOLD_VOIDED,
  hold_expired: OperationType.OPERATION_TYPE_HOLD_EXPIRED,
  reversal_out: OperationType.OPERATION_TYPE_REVERSAL_OUT,
  reversal_in: OperationType.OPERATION_TYPE_REVERSAL_IN,
  refund: OperationType.OPERATION_TYPE_REFUND,
  refund_cancelled: OperationType.OPERATION_TYPE_REFUND_CANCELLED,
};

const TYPE_FROM_GRPC = new Map<OperationType, OperationTypeName>(
  Object.entries(TYPE_TO_GRPC).map(([name, value]) => [value, name as OperationTypeName]),
);

/** Query of GET /accounts/{accountId}/operations, after validation and defaults. */
export interface OperationsQuery {
  limit: number;
  cursor?: string;
  type?: OperationTypeName;
  from?: string;
  to?: string;
}

/** The Operation schema of openapi.yaml. */
export interface OperationResource {
  id: string;
  type: OperationTypeName;
  amount: string;
  currency: string;
  counterpartyAccountId?: string;
  transferId?: string;
  topUpId?: string;
  description?: string;
  cardLast4?: string;
  /** Subject (user or client id) of whoever made the movement; absent for events recorded before it was kept. */
  initiatedBy?: string;
  holdId?: string;
  direction?: 'out' | 'in';
  reversalId?: string;
  originalTransferId?: string;
  /** Only when true (an admin forced the reversal). */
  forced?: true;
  refundId?: string;
  createdAt: string;
}

export interface OperationPage {
  items: OperationResource[];
  nextCursor: string | null;
}

export function toGetOperationsRequest(accountId: string, query: OperationsQuery): GetOperationsRequest {
  const from = query.from !== undefined ? toDate(query.from, 'query.from') : undefined;
  const to = query.to !== undefined ? toDate(query.to, 'query.to') : undefined;
  checkOrder(from, to);
  const range = clampToStore(from, to);
  return {
    accountId: canonicalUuid(accountId),
    pageSize: query.limit,
    pageToken: query.cursor ?? '',
    types: query.type ? [TYPE_TO_GRPC[query.type]] : [],
    fromTime: range.from,
    toTime: range.to,
  };
}

/** True when the (clamped) range holds no storable instant: the answer is known without asking analytics. */
export function selectsNothing(request: { fromTime?: Date | undefined; toTime?: Date | undefined }): boolean {
  return clampToStore(request.fromTime, request.toTime).empty;
}

export function fromOperation(operation: Operation): OperationResource {
  const type = TYPE_FROM_GRPC.get(operation.type);
  if (!type) throw new UnexpectedUpstreamResponseError(`GetOperations: unknown operation type ${operation.type}`);
  const { amount, currency } = fromMoney(operation.amount, 'GetOperations');
  const resource: OperationResource = {
    id: operation.id,
    type,
    amount,
    currency,
    createdAt: toIsoTimestamp(operation.createdAt, 'GetOperations'),
  };
  // Empty proto strings mean "not set"; the REST schema leaves such fields out.
  if (operation.counterpartyAccountId) resource.counterpartyAccountId = operation.counterpartyAccountId;
  if (operation.transferId) resource.transferId = operation.transferId;
  if (operation.topUpId) resource.topUpId = operation.topUpId;
  if (operation.description) resource.description = operation.description;
  if (operation.cardLast4) resource.cardLast4 = operation.cardLast4;
  if (operation.initiatedBy) resource.initiatedBy = operation.initiatedBy;
  addLinks(resource, operation);
  return resource;
}

/** Issue #15 links: the hold, reversal or refund an operation belongs to. */
function addLinks(resource: OperationResource, operation: Operation): void {
  if (operation.holdId) resource.holdId = operation.holdId;
  if (operation.holdDirection === 'out' || operation.holdDirection === 'in') resource.direction = operation.holdDirection;
  else if (operation.holdDirection) throw new UnexpectedUpstreamResponseError(`GetOperations: unknown hold direction ${operation.holdDirection.slice(0, 8)}`);
  if (operation.reversalId) resource.reversalId = operation.reversalId;
  if (operation.originalTransferId) resource.originalTransferId = operation.originalTransferId;
  if (operation.forced) resource.forced = true;
  if (operation.refundId) resource.refundId = operation.refundId;
}

export function fromGetOperationsResponse(response: GetOperationsResponse): OperationPage {
  return {
    items: response.operations.map(fromOperation),
    nextCursor: response.nextPageToken === '' ? null : response.nextPageToken,
  };
}
