import { randomUUID } from 'node:crypto';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import {
  BankCardAdapterServiceService,
  TopUpStatus,
  type BankCardAdapterServiceServer,
  type ProcessCardTopUpRequest,
  type ProcessCardTopUpResponse,
  type TopUp,
} from '@wallet/contracts/card-adapter';
import type { GrpcServiceRegistration, Logger } from '@wallet/platform';
import { TopUpFailure } from '../domain/failures.js';
import type { TopUpRecord } from '../domain/top-up.js';
import type { AdapterMetrics } from '../metrics.js';
import type { TopUpProcessor } from '../saga/processor.js';
import { toServiceError } from './errors.js';

export const SERVICE_NAME = 'wallet.cardadapter.v1.BankCardAdapterService';

export function toProtoTopUp(record: TopUpRecord): TopUp {
  return {
    id: record.id,
    accountId: record.accountId,
    amount: { amountMinor: record.amountMinor, currencyCode: record.currency },
    status: record.state === 'COMPLETED' ? TopUpStatus.TOP_UP_STATUS_COMPLETED : TopUpStatus.TOP_UP_STATUS_PENDING,
    cardLast4: record.cardLast4,
    cardBrand: record.cardBrand,
    createdAt: record.createdAt,
  };
}

function outcomeLabel(error: unknown): string {
  if (!(error instanceof TopUpFailure)) return 'error';
  switch (error.reason) {
    case 'CARD_DECLINED':
    case 'CARD_INSUFFICIENT_FUNDS':
      return 'declined';
    case 'DEPOSIT_FAILED_REFUNDED':
      return 'refunded';
    case 'TOP_UP_PENDING':
      return 'pending';
    case 'IDEMPOTENCY_KEY_REUSED':
      return 'reused';
    case 'IDEMPOTENCY_KEY_IN_FLIGHT':
      return 'in_flight';
    case 'PAYMENT_GATEWAY_ERROR':
    case 'PAYMENT_GATEWAY_TIMEOUT':
      return 'failed';
    default:
      return 'rejected';
  }
}

export function createCardAdapterService(deps: {
  processor: TopUpProcessor;
  logger: Logger;
  metrics: AdapterMetrics;
}): GrpcServiceRegistration {
  const implementation: BankCardAdapterServiceServer = {
    processCardTopUp(
      call: ServerUnaryCall<ProcessCardTopUpRequest, ProcessCardTopUpResponse>,
      callback: sendUnaryData<ProcessCardTopUpResponse>,
    ) {
      const startedAt = process.hrtime.bigint();
      const requestId = call.metadata.get('x-request-id')[0]?.toString() || randomUUID();
      const request = call.request;
      const finish = (outcome: string, replayed: boolean) => {
        deps.metrics.topUps.inc({ outcome, replayed: String(replayed) });
        deps.metrics.requestDuration.observe({ outcome }, Number(process.hrtime.bigint() - startedAt) / 1e9);
      };
      // The card goes to the processor and nowhere else: never into a log line.
      deps.processor
        .processRequest(
          {
            accountId: request.accountId,
            amountMinor: request.amount?.amountMinor ?? 0n,
            currency: request.amount?.currencyCode ?? '',
            idempotencyKey: request.idempotencyKey,
            card: request.card
              ? {
                  number: request.card.number,
                  expiryMonth: request.card.expiryMonth,
                  expiryYear: request.card.expiryYear,
                  cvc: request.card.cvc,
                  holderName: request.card.holderName,
                }
              : undefined,
          },
          { requestId },
        )
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
          } else {
            deps.logger.error({ requestId, err: error }, 'top-up failed unexpectedly');
          }
          callback(toServiceError(error));
        });
    },
  };
  return { name: SERVICE_NAME, definition: BankCardAdapterServiceService, implementation };
}
