// gRPC adapter: proto <-> domain. Failures are mapped in ./errors.ts.
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import {
  OperationType,
  SummaryGranularity,
  type AnalyticsServiceServer,
  type GetAccountSummaryRequest,
  type GetAccountSummaryResponse,
  type GetOperationsRequest,
  type GetOperationsResponse,
  type Operation,
} from '@wallet/contracts/analytics';
import type { Logger } from '@wallet/platform';
import { encodeCursor } from '../domain/cursor.js';
import { InvalidArgumentError } from '../domain/errors.js';
import type { OperationTypeName } from '../domain/operation.js';
import { normalizeOperationsQuery } from '../domain/query.js';
import { buildSummary, normalizeSummaryQuery, type Granularity } from '../domain/summary.js';
import { dateToMicros, microsToDate } from '../domain/time.js';
import type { OperationsStore, StoredOperation } from '../store/operations-store.js';
import { fromStore, toServiceError } from './errors.js';

export const ANALYTICS_SERVICE_NAME = 'wallet.analytics.v1.AnalyticsService';

const TYPE_TO_PROTO: Record<OperationTypeName, OperationType> = {
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

const TYPE_FROM_PROTO = new Map<OperationType, OperationTypeName>(
  Object.entries(TYPE_TO_PROTO).map(([name, value]) => [value, name as OperationTypeName]),
);

type OperationsReader = Pick<OperationsStore, 'listOperations' | 'summarize'>;

export function createAnalyticsServicer(store: OperationsReader, logger: Logger): AnalyticsServiceServer {
  return {
    getOperations: unary(logger, 'GetOperations', async (request: GetOperationsRequest): Promise<GetOperationsResponse> => {
      const query = normalizeOperationsQuery({
        accountId: request.accountId,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
        types: request.types.map((t) => TYPE_FROM_PROTO.get(t) ?? `unknown(${t})`),
        ...(request.fromTime ? { fromMicros: dateToMicros(request.fromTime) } : {}),
        ...(request.toTime ? { toMicros: dateToMicros(request.toTime) } : {}),
      });
      const page = await fromStore(() => store.listOperations(query));
      return {
        operations: page.operations.map(toProtoOperation),
        nextPageToken: page.next ? encodeCursor(page.next, query.filter) : '',
      };
    }),
    getAccountSummary: unary(logger, 'GetAccountSummary', async (request: GetAccountSummaryRequest): Promise<GetAccountSummaryResponse> => {
      const query = normalizeSummaryQuery({
        accountId: request.accountId,
        ...(request.fromTime ? { fromMs: request.fromTime.getTime() } : {}),
        ...(request.toTime ? { toMs: request.toTime.getTime() } : {}),
        granularity: granularityFromProto(request.granularity),
      });
      const summary = buildSummary(query, await fromStore(() => store.summarize(query)));
      const money = (amountMinor: bigint) => ({ amountMinor, currencyCode: summary.currency });
      return {
        accountId: summary.accountId,
        currencyCode: summary.currency,
        buckets: summary.buckets.map((b) => ({
          periodStart: new Date(b.periodStartMs),
          totalIn: money(b.totalInMinor),
          totalOut: money(b.totalOutMinor),
          countIn: b.countIn,
          countOut: b.countOut,
        })),
        totalIn: money(summary.totalInMinor),
        totalOut: money(summary.totalOutMinor),
      };
    }),
  };
}

function granularityFromProto(value: SummaryGranularity): Granularity {
  switch (value) {
    case SummaryGranularity.SUMMARY_GRANULARITY_UNSPECIFIED:
    case SummaryGranularity.SUMMARY_GRANULARITY_DAY:
      return 'day';
    case SummaryGranularity.SUMMARY_GRANULARITY_MONTH:
      return 'month';
    default:
      throw new InvalidArgumentError('granularity', 'must be DAY or MONTH');
  }
}

function toProtoOperation(op: StoredOperation): Operation {
  return {
    id: op.eventId,
    accountId: op.accountId,
    type: TYPE_TO_PROTO[op.type],
    amount: { amountMinor: op.amountMinor, currencyCode: op.currency },
    counterpartyAccountId: op.counterpartyAccountId,
    transferId: op.transferId,
    topUpId: op.topUpId,
    description: op.description,
    cardLast4: op.cardLast4,
    createdAt: microsToDate(op.createdAtMicros),
    initiatedBy: op.initiatedBy,
    holdId: op.holdId,
    holdDirection: op.direction,
    reversalId: op.reversalId,
    originalTransferId: op.originalTransferId,
    forced: op.forced,
    refundId: op.refundId,
  };
}

function unary<Req, Res>(logger: Logger, method: string, handler: (request: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    handler(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error, logger, method)),
    );
  };
}
