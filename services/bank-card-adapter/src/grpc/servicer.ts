// The gRPC boundary: requests in, use cases called, answers and errors out
// (errors through errors.ts, the one reason -> status table).

import { randomUUID } from 'node:crypto';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import {
  BankCardAdapterServiceService,
  TopUpStatus,
  type BankCardAdapterServiceServer,
  TopUpRefundStatus,
  type GetTopUpRefundRequest,
  type GetTopUpRefundResponse,
  type GetTopUpRequest,
  type GetTopUpResponse,
  type RefundTopUpRequest,
  type RefundTopUpResponse,
  type TopUpRefund,
  type ProcessCardTopUpRequest,
  type ProcessCardTopUpResponse,
  type TopUp,
} from '@wallet/contracts/card-adapter';
import type { GrpcServiceRegistration, Logger } from '@wallet/platform';
import type { TokenVerifier } from '@wallet/platform/auth';
import { authenticate } from '../app/caller.js';
import { getTopUp, parseTopUpQuery } from '../app/get-top-up.js';
import { processTopUp } from '../app/process-top-up.js';
import { getTopUpRefunds, refundTopUp } from '../app/refund-top-up.js';
import { refundStatus, type RefundRecord, type RefundStatus } from '../domain/refund.js';
import type { SagaContext } from '../app/saga.js';
import { DependencyUnavailable, TopUpFailure } from '../domain/failures.js';
import { chargedStatus, outcomeOf, type TopUpRecord, type TopUpState } from '../domain/top-up.js';
import type { AdapterMetrics } from '../metrics.js';
import { toServiceError } from './errors.js';

export const SERVICE_NAME = 'wallet.cardadapter.v1.BankCardAdapterService';

const STATUS_BY_STATE: Record<TopUpState, TopUpStatus> = {
  RECEIVED: TopUpStatus.TOP_UP_STATUS_PENDING,
  CHARGING: TopUpStatus.TOP_UP_STATUS_PENDING,
  CHARGED: TopUpStatus.TOP_UP_STATUS_PENDING,
  REFUNDING: TopUpStatus.TOP_UP_STATUS_PENDING,
  COMPLETED: TopUpStatus.TOP_UP_STATUS_COMPLETED,
  DECLINED: TopUpStatus.TOP_UP_STATUS_DECLINED,
  REFUNDED: TopUpStatus.TOP_UP_STATUS_REFUNDED,
  REFUND_FAILED: TopUpStatus.TOP_UP_STATUS_REFUND_FAILED,
  FAILED: TopUpStatus.TOP_UP_STATUS_FAILED,
};

export function toProtoTopUp(record: TopUpRecord): TopUp {
  const outcome = outcomeOf(record);
  return {
    id: record.id,
    accountId: record.accountId,
    amount: { amountMinor: record.amountMinor, currencyCode: record.currency },
    status: STATUS_BY_STATE[record.state],
    cardLast4: record.cardLast4,
    cardBrand: record.cardBrand,
    createdAt: record.createdAt,
    charged: chargedStatus(record.state),
    failureReason: outcome.kind === 'failed' ? outcome.failure.reason : '',
    failureMessage: outcome.kind === 'failed' ? outcome.failure.message : '',
    initiatedBy: record.initiatedBy ?? '',
  };
}

const REFUND_STATUS: Record<RefundStatus, TopUpRefundStatus> = {
  succeeded: TopUpRefundStatus.TOP_UP_REFUND_STATUS_SUCCEEDED,
  pending: TopUpRefundStatus.TOP_UP_REFUND_STATUS_PENDING,
  failed: TopUpRefundStatus.TOP_UP_REFUND_STATUS_FAILED,
};

export function toProtoRefund(record: RefundRecord): TopUpRefund {
  return {
    id: record.id,
    topUpId: record.topUpId,
    accountId: record.accountId,
    amount: { amountMinor: record.amountMinor, currencyCode: record.currency },
    status: REFUND_STATUS[refundStatus(record.state)],
    failureReason: record.state === 'FAILED' ? (record.failureReason ?? '') : '',
    failureMessage: record.state === 'FAILED' ? (record.failureMessage ?? '') : '',
    createdAt: record.createdAt,
    initiatedBy: record.initiatedBy,
    gatewayRefundId: record.gatewayRefundId ?? '',
  };
}

function outcomeLabel(error: unknown): string {
  if (error instanceof DependencyUnavailable) return 'unavailable';
  if (!(error instanceof TopUpFailure)) return 'error';
  switch (error.reason) {
    case 'CARD_DECLINED':
    case 'CARD_INSUFFICIENT_FUNDS':
      return 'declined';
    case 'DEPOSIT_FAILED_REFUNDED':
      return 'refunded';
    case 'REFUND_FAILED':
      return 'refund_failed';
    case 'TOP_UP_PENDING':
      return 'pending';
    case 'IDEMPOTENCY_KEY_REUSED':
      return 'reused';
    case 'IDEMPOTENCY_KEY_IN_FLIGHT':
      return 'in_flight';
    case 'CALLER_UNAUTHENTICATED':
    case 'ROLE_FORBIDDEN':
      return 'refused';
    case 'PAYMENT_GATEWAY_ERROR':
    case 'PAYMENT_GATEWAY_TIMEOUT':
      return 'failed';
    default:
      return 'rejected';
  }
}

function toTopUpInput(request: ProcessCardTopUpRequest) {
  const card = request.card;
  return {
    accountId: request.accountId,
    amountMinor: request.amount?.amountMinor ?? 0n,
    currency: request.amount?.currencyCode ?? '',
    idempotencyKey: request.idempotencyKey,
    card: card ? { number: card.number, expiryMonth: card.expiryMonth, expiryYear: card.expiryYear, cvc: card.cvc, holderName: card.holderName } : undefined,
  };
}

/** The authorization metadata value, if exactly one was sent (several are treated as malformed by parseBearer). */
function authorizationOf(call: ServerUnaryCall<unknown, unknown>): string | undefined {
  const values = call.metadata.get('authorization').map((value) => value.toString());
  return values.length === 1 ? values[0] : values.length === 0 ? undefined : 'malformed: several values';
}

function answerFailure(logger: Logger, rpc: string, error: unknown, callback: (error: ReturnType<typeof toServiceError>) => void): void {
  if (error instanceof TopUpFailure) logger.info({ rpc, reason: error.reason }, 'refund refused');
  else if (error instanceof DependencyUnavailable) logger.warn({ rpc, unavailable: error.dependency }, 'refund refused: a dependency is unavailable');
  else logger.error({ rpc, err: error }, 'refund call failed unexpectedly');
  callback(toServiceError(error));
}

export function createCardAdapterServicer(deps: {
  ctx: SagaContext;
  logger: Logger;
  metrics: AdapterMetrics;
  verifier: TokenVerifier;
}): GrpcServiceRegistration & { implementation: BankCardAdapterServiceServer } {
  const implementation: BankCardAdapterServiceServer = {
    processCardTopUp(call: ServerUnaryCall<ProcessCardTopUpRequest, ProcessCardTopUpResponse>, callback: sendUnaryData<ProcessCardTopUpResponse>) {
      const startedAt = process.hrtime.bigint();
      const requestId = call.metadata.get('x-request-id')[0]?.toString() || randomUUID();
      const finish = (outcome: string, replayed: boolean) => {
        deps.metrics.topUps.inc({ outcome, replayed: String(replayed) });
        deps.metrics.requestDuration.observe({ outcome }, Number(process.hrtime.bigint() - startedAt) / 1e9);
      };
      // The card goes to the use case and nowhere else: never into a log line.
      authenticate(deps.verifier, authorizationOf(call))
        .then((caller) => processTopUp(deps.ctx, toTopUpInput(call.request), { requestId, caller }))
        .then(({ record, replayed }) => {
          finish('completed', replayed);
          deps.logger.info({ requestId, topUpId: record.id, replayed, outcome: 'completed' }, 'top-up answered');
          callback(null, { topUp: toProtoTopUp(record), replayed });
        })
        .catch((error: unknown) => {
          const outcome = outcomeLabel(error);
          finish(outcome, error instanceof TopUpFailure && error.metadata.replayed === 'true');
          if (error instanceof TopUpFailure) {
            deps.logger.info({ requestId, reason: error.reason, charged: error.charged, topUpId: error.metadata.top_up_id, outcome }, 'top-up answered');
          } else if (error instanceof DependencyUnavailable) {
            deps.logger.warn({ requestId, unavailable: error.dependency, outcome }, 'top-up refused before anything was charged: a dependency is unavailable');
          } else {
            deps.logger.error({ requestId, err: error }, 'top-up failed unexpectedly');
          }
          callback(toServiceError(error));
        });
    },
    getTopUp(call: ServerUnaryCall<GetTopUpRequest, GetTopUpResponse>, callback: sendUnaryData<GetTopUpResponse>) {
      authenticate(deps.verifier, authorizationOf(call))
        .then(({ principal }) => getTopUp(deps.ctx.repository, parseTopUpQuery(call.request), principal))
        .then((record) => callback(null, { topUp: toProtoTopUp(record) }))
        .catch((error: unknown) => {
          if (error instanceof DependencyUnavailable) deps.logger.warn({ unavailable: error.dependency }, 'GetTopUp refused: a dependency is unavailable');
          else if (!(error instanceof TopUpFailure)) deps.logger.error({ err: error }, 'GetTopUp failed unexpectedly');
          callback(toServiceError(error));
        });
    },
    refundTopUp(call: ServerUnaryCall<RefundTopUpRequest, RefundTopUpResponse>, callback: sendUnaryData<RefundTopUpResponse>) {
      const requestId = call.metadata.get('x-request-id')[0]?.toString() || randomUUID();
      const input = { topUpId: call.request.topUpId, amount: call.request.amount, idempotencyKey: call.request.idempotencyKey };
      authenticate(deps.verifier, authorizationOf(call))
        .then((caller) => refundTopUp(deps.ctx, input, { caller, requestId }))
        .then(({ record, replayed }) => {
          deps.logger.info({ requestId, refundId: record.id, state: record.state, replayed }, 'refund answered');
          callback(null, { refund: toProtoRefund(record), replayed });
        })
        .catch((error: unknown) => answerFailure(deps.logger, 'RefundTopUp', error, callback));
    },
    getTopUpRefund(call: ServerUnaryCall<GetTopUpRefundRequest, GetTopUpRefundResponse>, callback: sendUnaryData<GetTopUpRefundResponse>) {
      authenticate(deps.verifier, authorizationOf(call))
        .then((caller) => getTopUpRefunds(deps.ctx, { refundId: call.request.refundId, topUpId: call.request.topUpId }, caller))
        .then((records) => callback(null, { refunds: records.map(toProtoRefund) }))
        .catch((error: unknown) => answerFailure(deps.logger, 'GetTopUpRefund', error, callback));
    },
  };
  return { name: SERVICE_NAME, definition: BankCardAdapterServiceService, implementation };
}
