import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface AdapterMetrics {
  /** Requests by outcome: completed, declined, refunded, failed, pending, rejected (bad input), reused, in_flight, error. */
  topUps: Counter<'outcome' | 'replayed'>;
  /** What each recovery claim ended in: completed, declined, refunded, failed, still_pending, lease_lost, error. */
  recoveryActions: Counter<'action'>;
  gatewayCalls: Counter<'operation' | 'result'>;
  depositAttempts: Counter<'result'>;
  /** GetDeposit lookups of an unknown deposit outcome: applied, voided, not_found, unreachable. */
  depositLookups: Counter<'result'>;
  /** Refunds the gateway refused for good (top-up REFUND_FAILED: manual action). */
  refundsFailed: Counter<'code'>;
  /** What each reconciliation check of a failed top-up found: no_charge, declined, late_charge_refunded, lookup_failed. */
  reconciliationActions: Counter<'action'>;
  unfinishedTopUps: Gauge;
  /** Top-ups in REFUND_FAILED (card charged, not credited, refund refused): alert when above 0. */
  refundFailedTopUps: Gauge;
  requestDuration: Histogram<'outcome'>;
  /** Calls refused by the caller table (src/grpc/callers.ts), by RPC and the caller's certificate name. */
  callersDenied: Counter<'rpc' | 'caller'>;
}

export function createAdapterMetrics(registry: Registry): AdapterMetrics {
  return {
    topUps: new Counter({
      name: 'card_adapter_top_ups_total',
      help: 'ProcessCardTopUp requests by outcome',
      labelNames: ['outcome', 'replayed'],
      registers: [registry],
    }),
    recoveryActions: new Counter({
      name: 'card_adapter_recovery_actions_total',
      help: 'Unfinished top-ups taken over by the recovery loop, by what became of them',
      labelNames: ['action'],
      registers: [registry],
    }),
    gatewayCalls: new Counter({
      name: 'card_adapter_payment_gateway_calls_total',
      help: 'Payment gateway calls by operation and result',
      labelNames: ['operation', 'result'],
      registers: [registry],
    }),
    depositAttempts: new Counter({
      name: 'card_adapter_deposit_attempts_total',
      help: 'bank DepositMoney attempts by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    depositLookups: new Counter({
      name: 'card_adapter_deposit_lookups_total',
      help: 'bank GetDeposit lookups of deposits whose outcome was unknown, by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    refundsFailed: new Counter({
      name: 'card_adapter_refunds_failed_total',
      help: 'Refunds the payment gateway refused for good; each leaves a top-up REFUND_FAILED for manual action',
      labelNames: ['code'],
      registers: [registry],
    }),
    reconciliationActions: new Counter({
      name: 'card_adapter_reconciliation_actions_total',
      help: 'Checks of recent failed top-ups at the payment gateway, by what they found',
      labelNames: ['action'],
      registers: [registry],
    }),
    refundFailedTopUps: new Gauge({
      name: 'card_adapter_refund_failed_top_ups',
      help: 'Top-ups left REFUND_FAILED (card charged, not credited, refund refused) as of the last recovery pass',
      registers: [registry],
    }),
    unfinishedTopUps: new Gauge({
      name: 'card_adapter_unfinished_top_ups',
      help: 'Top-ups not yet completed, declined, refunded or failed (as of the last recovery pass)',
      registers: [registry],
    }),
    callersDenied: new Counter({
      name: 'card_adapter_grpc_callers_denied_total',
      help: 'gRPC calls refused because the calling service (its client certificate) is not allowed to call the RPC',
      labelNames: ['rpc', 'caller'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'card_adapter_top_up_duration_seconds',
      help: 'ProcessCardTopUp duration by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
